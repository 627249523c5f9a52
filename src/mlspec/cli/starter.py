"""`mlspec init`: a commented starter spec that validates as written."""

from __future__ import annotations

import os
from pathlib import Path

from mlspec.spec.schema import SCHEMA_ID, SCHEMA_PATH
from mlspec.targets.templating import render_template


def schema_reference(spec_path: Path) -> str:
    """The modeline target: the repository's schema file relative to the spec when there
    is one above it, else the published URL."""
    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        schema = candidate / SCHEMA_PATH
        if schema.is_file():
            return Path(os.path.relpath(schema, folder)).as_posix()
    return SCHEMA_ID


def starter_spec(name: str, spec_path: Path) -> str:
    return render_template("init/spec.yaml.j2", name=name, schema=schema_reference(spec_path),
                           dataset=name.replace("-", "_"))
