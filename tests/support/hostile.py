"""Hostile input for the front end, shared by its unit, property and process tests: a spec
header, a YAML alias bomb, and the front end as `mlspec validate` runs it."""

from __future__ import annotations

from pathlib import Path

HEADER = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: churn}\n"


def front_end(raw: bytes, display: str = "spec.yaml") -> list:
    """The front end as `mlspec validate` runs it, and every rendering of its diagnostics."""
    from mlspec.compiler.session import load_unit
    from mlspec.diagnostics.render import render

    unit = load_unit(Path(display), raw=raw)
    sources = {display: unit.source.text} if unit.source is not None else {}
    for fmt in ("human", "json", "github"):
        render(unit.diagnostics, fmt, sources)
    return unit.diagnostics


def bomb(levels: int, width: int) -> str:
    """A spec whose `levels` anchors each alias the previous one `width` times."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return HEADER + "\n".join(lines) + "\n"
