"""`mlspec explain`: the effective value at a key path and where it came from."""

from __future__ import annotations

import json
from pathlib import Path

from mlspec.diagnostics import Diagnostic


def explain_value(spec_file: Path, key_path: str, env: str | None) -> tuple[int, str, list]:
    from mlspec.build.session import FrontendResult, load_and_check
    from mlspec.ir.overlay import Overlaid
    from mlspec.ir.resolve import overlay_environment

    front = load_and_check(spec_file)
    if not front.ok:
        return 1, "", [front]
    source, spec = front.source, front.spec
    if env is not None:
        if env not in spec.environments:
            diag = Diagnostic("E604", f"environment `{env}` is not defined in this spec", source.path,
                              help="defined: " + (", ".join(spec.environments) or "none"))
            return 1, "", [FrontendResult(source.path, source, None, [diag])]
        overlaid, spec, diagnostics = overlay_environment(source, env)
        if spec is None:
            return 1, "", [FrontendResult(source.path, source, None, diagnostics)]
    else:
        overlaid = Overlaid("", source.data, source.positions)
    path = tuple(part for part in key_path.split(".") if part)
    value = spec.model_dump(mode="json", by_alias=True, exclude_none=False)
    for depth, part in enumerate(path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
            path = path[:depth] + (int(part),) + path[depth + 1:]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            options = ", ".join(sorted(map(str, value))) if isinstance(value, dict) else "none (not a mapping)"
            return 2, f"no `{part}` under `{'.'.join(map(str, path[:depth])) or 'the top level'}`; keys: {options}\n", []
    kind, span = overlaid.origin(path)
    where = {
        "override": f"{source.path}:{span.line}:{span.col} (environment `{env}` override)" if span else "",
        "spec": f"{source.path}:{span.line}:{span.col}" if span else "",
        "default": "default (not written in the spec)",
    }[kind]
    rendered = json.dumps(value, sort_keys=True, ensure_ascii=False)
    scope = f" in environment `{env}`" if env else ""
    return 0, f"{key_path} = {rendered}{scope}\n  from {where}\n", []
