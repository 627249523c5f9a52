"""`mlspec init`: a commented starter spec that validates as written."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlspec.cli.output import say
from mlspec.errors import UsageError


@click.command("init")
@click.argument("name")
@click.option("--out", default=None, help="File to write [default: NAME.yaml, or specs/NAME.yaml when ./specs exists].")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def command(name: str, out: str | None, force: bool) -> None:
    """Write a commented starter spec for a new ML system."""
    from mlspec.fsutil import write_text_atomic
    from mlspec.spec.types import DNS1123_LABEL_RE

    if len(name) > 40 or not DNS1123_LABEL_RE.match(name):
        raise click.BadParameter("use at most 40 lower-case letters, digits and `-` (it names Kubernetes"
                                 " resources)", param_hint="NAME")
    path = Path(out) if out else (Path("specs") / f"{name}.yaml" if Path("specs").is_dir() else Path(f"{name}.yaml"))
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (use --force to overwrite)")
    write_text_atomic(path, starter_spec(name, path))
    say(f"wrote {path}; check it with `mlspec validate {path}`")


def starter_spec(name: str, spec_path: Path) -> str:
    from mlspec.targets.templating import render_template

    return render_template("init/spec.yaml.j2", name=name, schema=schema_reference(spec_path),
                           dataset=name.replace("-", "_"))


def schema_reference(spec_path: Path) -> str:
    """The modeline target: the repository's schema file relative to the spec when there
    is one above it, else the published URL."""
    from mlspec.spec.schema import SCHEMA_ID, SCHEMA_PATH

    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        schema = candidate / SCHEMA_PATH
        if schema.is_file():
            return Path(os.path.relpath(schema, folder)).as_posix()
    return SCHEMA_ID
