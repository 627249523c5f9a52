"""The stages keep their hand-offs: targets generate from the IR alone, and no target depends
on another one or on the compile driver. Read from the source with `ast`, so a violation
anywhere in a module (inside a function, under TYPE_CHECKING) is caught, not only the
imports that happen to run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src"
TARGETS_DIR = SRC / "mlspec" / "targets"
TEMPLATES = REPO / "templates"


def _target_modules() -> set[str]:
    """The built-in target modules, as the registry lists them (`module:Class`)."""
    tree = ast.parse((TARGETS_DIR / "registry.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "BUILTIN_TARGETS":
            return {ast.literal_eval(value).split(":")[0] for value in node.value.values}
    raise AssertionError("registry.py has no BUILTIN_TARGETS table")


TARGET_MODULES = _target_modules()


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it; `from a import b` counts as `a` and `a.b`
    (b may be a submodule), relative imports are made absolute."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


TARGETS_PACKAGE_FILES = sorted(TARGETS_DIR.glob("*.py"))


def test_the_registry_lists_target_modules_that_exist():
    assert TARGET_MODULES and all((SRC / (m.replace(".", "/") + ".py")).is_file() for m in TARGET_MODULES)


@pytest.mark.parametrize("path", TARGETS_PACKAGE_FILES, ids=lambda p: p.name)
def test_targets_read_the_ir_not_the_spec_models_or_the_driver(path):
    forbidden = sorted(m for m in imported_modules(path) if _within(m, "mlspec.spec") or _within(m, "mlspec.compiler"))
    assert forbidden == [], f"{path.name} imports {forbidden}: targets see only the IR and mlspec.targets"


@pytest.mark.parametrize("path", TARGETS_PACKAGE_FILES, ids=lambda p: p.name)
def test_no_target_depends_on_another_target(path):
    """Facts several targets share live in shared modules (ir.layout, k8s, the model card
    document...), never in a target; a shared module importing a target would let one
    target reach another through it."""
    own = _module_name(path)
    others = sorted(m for m in imported_modules(path) for t in TARGET_MODULES if t != own and _within(m, t))
    assert others == [], f"{path.name} imports the target module(s) {others}"


_CAMEL = re.compile(r"^[a-z]+[A-Z]")


@pytest.mark.parametrize("path", TARGETS_PACKAGE_FILES, ids=lambda p: p.name)
def test_targets_read_no_camel_case_spec_field(path):
    """camelCase names are the YAML's (and the spec models'); the IR's fields are snake_case."""
    read = sorted({node.attr for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.Attribute) and _CAMEL.match(node.attr)})
    assert read == [], f"{path.name} reads spec fields {read}"


_TEMPLATE_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_CAMEL_ATTRIBUTE = re.compile(r"\.([a-z]+[A-Z][A-Za-z0-9]*)")


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.j2")), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_templates_read_no_camel_case_spec_field(path):
    text = path.read_text(encoding="utf-8")
    read = sorted({name for block in _TEMPLATE_EXPRESSION.findall(text) for name in _CAMEL_ATTRIBUTE.findall(block)})
    assert read == [], f"{path.relative_to(TEMPLATES)} reads spec fields {read}"


def test_the_ir_model_does_not_import_the_spec_models():
    path = SRC / "mlspec" / "ir" / "model.py"
    spec = sorted(m for m in imported_modules(path) if _within(m, "mlspec.spec"))
    assert spec == [], f"ir/model.py imports {spec}: the IR has its own types"


def test_ir_fields_are_snake_case():
    tree = ast.parse((SRC / "mlspec" / "ir" / "model.py").read_text(encoding="utf-8"))
    fields = [f"{cls.name}.{node.target.id}" for cls in tree.body if isinstance(cls, ast.ClassDef)
              for node in cls.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)]
    assert fields and [f for f in fields if not re.match(r"^[a-z_][a-z0-9_]*$", f.split(".")[1])] == []
