"""The stage order is a test: imports between mlspec's packages point down only.

ARCHITECTURE.md's stage order, from the top:

    cli                      the command line, the one entry (`python -m mlspec` too)
    lsp                      the language server, a front end that `mlspec lsp` starts
    gitops | review | local  siblings: none imports another
    the compile driver       mlspec.compiler: the front end every command reads a spec with,
                             compiling, writing, the deployments-repository plan
    targets                  one module per generated tool
    ir                       references resolved; where generated files land (layout)
    check                    semantic rules
    spec                     the pydantic models
    source                   YAML text, positions, environment overlays, the round-trip editor
    shared base              mlspec's top-level modules (names, git, errors, locations, fsutil,
                             textsafe, integrity, ...), diagnostics/ and runtime/

runtime/ is code that runs inside Airflow and Kubeflow (the targets copy its text into the
generated files, which must run without mlspec installed). It sits in the shared base, so
every stage may read its constants and tests may call it, and it imports nothing of mlspec.

Every import counts: module level, inside functions, under `if TYPE_CHECKING:` (a coupling
that only type checkers see still points one way). What several upper packages must agree on
(where generated files land, names derived from the spec) therefore lives below all of them.
A broken rule is reported by name with the importing file:line, e.g.
`review may not import gitops (siblings): src/mlspec/review/diff.py:12`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

SRC = REPO / "src"

# Top to bottom; a tuple is one level of siblings. A layer is named by its package (written out
# in full, so that renaming a package renames it here too) and reported without `mlspec.`.
ORDER: tuple[tuple[str, ...], ...] = (
    ("mlspec.cli",),
    ("mlspec.lsp",),
    ("mlspec.gitops", "mlspec.review", "mlspec.local"),
    ("mlspec.compiler",),
    ("mlspec.targets",),
    ("mlspec.ir",),
    ("mlspec.check",),
    ("mlspec.spec",),
    ("mlspec.source",),
    ("base",),
)
RANK = {package.removeprefix("mlspec."): len(ORDER) - index for index, level in enumerate(ORDER) for package in level}
ENTRY = {"__main__": "cli"}  # `python -m mlspec` is the CLI
STANDALONE = "runtime"  # in the base, and imports nothing of mlspec
CLICK_ONLY_IN = "cli"
# Layers that may not reach some layer below them, with why.
NOT_BELOW = {
    ("ir", "source"): "the IR is built from the validated spec; YAML documents and positions are source's",
}
# What several upper packages agree on, pinned to the layer below all of them:
# module -> (what it is, the other names it went by). A module of one of these names higher up
# is the contract living twice, or back where it was.
PINNED = {
    "mlspec.names": ("the names derived from the spec", ()),
    "mlspec.git": ("the one git wrapper", ()),
    "mlspec.ir.layout": ("where generated files land", ("naming",)),
    "mlspec.source.overlay": ("environment overlays (YAML documents and positions)", ()),
    "mlspec.source.yaml_edit": ("the round-trip YAML editor", ()),
}


def layer_of(module: str) -> str:
    """The layer of the mlspec module `module` (dotted, `mlspec.` first)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    top = ENTRY.get(parts[1], parts[1])
    return top if top in RANK else "base"


def _is_standalone(module: str) -> bool:
    return module.split(".")[1:2] == [STANDALONE]


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@dataclass(frozen=True)
class Import:
    module: str  # absolute, as written (may name a function or class after the module)
    line: int


def imports_in(path: Path, src: Path) -> list[Import]:
    """Every import statement of `path`, anywhere in it, relative ones made absolute;
    `from a import b` yields `a.b` (b may be a submodule) and, for `from a import *`, `a`."""
    own = module_name(path, src)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno)
                      for alias in node.names]
    return sorted(found, key=lambda i: (i.line, i.module))


def _known_module(name: str, modules: set[str]) -> str:
    """The longest prefix of `name` that is an mlspec module (`mlspec.x.f` -> `mlspec.x`)."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def violations(src: Path) -> list[str]:
    """Every import of the package under `src/mlspec` that breaks the stage order, as
    `<rule>: <file>:<line>`, in file order."""
    paths = sorted(src.joinpath("mlspec").rglob("*.py"))
    modules = {module_name(path, src) for path in paths}
    found = []
    for path in paths:
        importer = module_name(path, src)
        here = layer_of(importer)
        where = f"{path.relative_to(src.parent).as_posix()}"
        for imported in imports_in(path, src):
            top = imported.module.split(".")[0]
            if top == "click" and here != CLICK_ONLY_IN:
                found.append(f"only cli may import click: {where}:{imported.line}")
                continue
            if top != "mlspec":
                continue
            target = _known_module(imported.module, modules)
            there = layer_of(target)
            if _is_standalone(importer) and target != "mlspec":
                found.append(f"{STANDALONE} may not import mlspec (runs without it in Airflow and "
                             f"Kubeflow): {where}:{imported.line}")
            elif here == there:
                continue
            elif RANK[here] == RANK[there]:
                found.append(f"{here} may not import {there} (siblings): {where}:{imported.line}")
            elif RANK[there] > RANK[here]:
                found.append(f"{here} may not import {there} (imports point down): {where}:{imported.line}")
            elif (here, there) in NOT_BELOW:
                found.append(f"{here} may not import {there} ({NOT_BELOW[here, there]}): {where}:{imported.line}")
    return list(dict.fromkeys(found))  # one line per import statement and rule


def misplaced(src: Path) -> list[str]:
    """Each pinned contract that is not where ARCHITECTURE.md puts it, or that lives twice
    (a module of the same name in a higher layer)."""
    paths = {module_name(path, src): path for path in src.joinpath("mlspec").rglob("*.py")}
    found = []
    for module, (what, former) in PINNED.items():
        stems, layer = {module.rpartition(".")[2], *former}, layer_of(module)
        if module not in paths:
            found.append(f"{what} belongs in {layer} as {module}: no such module")
        found += [f"{what} belongs in {layer} as {module}, not in {layer_of(other)}: "
                  f"{path.relative_to(src.parent).as_posix()}"
                  for other, path in sorted(paths.items())
                  if other != module and other.rpartition(".")[2] in stems and RANK[layer_of(other)] > RANK[layer]]
    return found


def test_imports_point_down_the_stage_order():
    broken = violations(SRC)
    assert broken == [], "the stage order (ARCHITECTURE.md) is broken:\n" + "\n".join(broken)


def test_what_upper_packages_share_lives_below_them():
    broken = misplaced(SRC)
    assert broken == [], "\n".join(broken)


def test_every_package_of_mlspec_has_a_place_in_the_order():
    """A new package is placed on purpose, not silently counted as the shared base."""
    base = {"diagnostics", STANDALONE}
    packages = {p.name for p in SRC.joinpath("mlspec").iterdir() if p.joinpath("__init__.py").is_file()}
    unplaced = sorted(packages - set(RANK) - base)
    assert unplaced == [], f"place {unplaced} in ORDER (tests/unit/codebase/test_layers.py) and ARCHITECTURE.md"


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "mlspec" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_contract_names_the_rule_and_the_line(tmp_path):
    """The checker itself, on a small package with one import of each kind that it refuses."""
    src = _package(tmp_path / "src", {
        "__init__.py": "",
        "names.py": "import json\n",
        "runtime/__init__.py": "from mlspec import names\n",
        "gitops/__init__.py": "", "gitops/publish.py": "def check_owned_path(): ...\n",
        "review/__init__.py": "",
        "review/diff.py": "import os\n\n\ndef f():\n    from mlspec.gitops.publish import check_owned_path\n",
        "ir/__init__.py": "", "ir/model.py": "from ..targets import naming\nfrom . import model\n",
        "ir/overlay.py": "import copy\nfrom mlspec.source.loader import LoadedSource\n",
        "source/__init__.py": "", "source/loader.py": "from mlspec import names\n",
        "targets/__init__.py": "", "targets/naming.py": "from mlspec.names import x\n",
        "check/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mlspec.ir.model\n",
        "spec/__init__.py": "import click\n",
        "cli/__init__.py": "import click\nfrom mlspec.review import diff\nfrom mlspec.spec import *\n",
        "lsp/__init__.py": "from mlspec.cli import main\n",
        "__main__.py": "from mlspec.cli import main\n",
    })
    assert violations(src) == [
        "check may not import ir (imports point down): src/mlspec/check/__init__.py:3",
        "ir may not import targets (imports point down): src/mlspec/ir/model.py:1",
        "ir may not import source (the IR is built from the validated spec; YAML documents and positions are"
        " source's): src/mlspec/ir/overlay.py:2",
        "lsp may not import cli (imports point down): src/mlspec/lsp/__init__.py:1",
        "review may not import gitops (siblings): src/mlspec/review/diff.py:5",
        "runtime may not import mlspec (runs without it in Airflow and Kubeflow): src/mlspec/runtime/__init__.py:1",
        "only cli may import click: src/mlspec/spec/__init__.py:1",
    ]


def test_a_contract_away_from_its_pinned_place_is_named(tmp_path):
    src = _package(tmp_path / "src", {
        "__init__.py": "", "names.py": "", "git.py": "",
        "ir/__init__.py": "", "ir/overlay.py": "",
        "source/__init__.py": "", "source/overlay.py": "", "source/yaml_edit.py": "",
        "targets/__init__.py": "", "targets/naming.py": "",
    })
    assert misplaced(src) == [
        "where generated files land belongs in ir as mlspec.ir.layout: no such module",
        "where generated files land belongs in ir as mlspec.ir.layout, not in targets: src/mlspec/targets/naming.py",
        "environment overlays (YAML documents and positions) belongs in source as mlspec.source.overlay, not in ir:"
        " src/mlspec/ir/overlay.py",
    ]
