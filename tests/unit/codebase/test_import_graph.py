"""The package's layout rules that a script can see: no import cycles between mlspec's
modules (click only in the CLI package, and the stage order: test_layers.py).

Every import counts, also those inside functions (a lazy import still couples the two
modules); imports under `if TYPE_CHECKING:` do not, as they never run."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

SRC = REPO / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.joinpath("mlspec").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The mlspec modules `name` imports (anywhere but under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate not in (name, "mlspec"):
                found.add(candidate)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path `a -> b -> a`, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return stack[stack.index(child):] + [child]
            if child not in state:
                found = visit(child)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_mlspec_has_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _imported_top_level(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
    return found


def test_the_language_server_is_a_front_end_beside_the_cli():
    """`mlspec.lsp` sits on top, with the CLI: nothing below imports it, only the `lsp` command
    does, and it imports nothing of the CLI. pygls and lsprotocol are imported by its server
    module alone (the rest of the package is plain Python on plain data)."""
    graph = import_graph()
    users = sorted(name for name, imported in graph.items()
                   if not name.startswith("mlspec.lsp") and any(i.startswith("mlspec.lsp") for i in imported))
    assert users == ["mlspec.cli.commands.lsp"], f"mlspec.lsp imported by {users}"
    cli = sorted(name for name, imported in graph.items()
                 if name.startswith("mlspec.lsp") and any(i == "mlspec.cli" or i.startswith("mlspec.cli.") for i in imported))
    assert cli == [], f"{cli} import the CLI"
    pygls_users = sorted(name for name, path in _modules().items()
                         if any(m.split(".")[0] in ("pygls", "lsprotocol") for m in _imported_top_level(path)))
    assert pygls_users == ["mlspec.cli.commands.lsp", "mlspec.lsp.server"], pygls_users
