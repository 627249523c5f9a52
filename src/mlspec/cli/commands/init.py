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
    schema, schema_written = schema_for(path)
    write_text_atomic(path, starter_spec(name, path, schema))
    if schema_written:
        say(f"wrote {schema_written} (the JSON Schema editors check the spec against; refresh it with"
            " `mlspec schema` after upgrading mlspec)")
    say(f"wrote {path}; check it with `mlspec validate {path}`")


def starter_spec(name: str, spec_path: Path, schema: Path) -> str:
    from mlspec.targets.templating import render_template

    reference = Path(os.path.relpath(schema.resolve(), spec_path.resolve().parent)).as_posix()
    return render_template("init/spec.yaml.j2", name=name, schema=reference, dataset=name.replace("-", "_"))


def schema_for(spec_path: Path) -> tuple[Path, Path | None]:
    """The schema file the spec's modeline points at: the project's own when there is one in
    a folder above the spec, else `schema/mlspec.schema.json` here, written now (a modeline
    must point at a file that exists). Returns (schema, the path written or None)."""
    from mlspec.fsutil import write_text_atomic
    from mlspec.spec.schema import SCHEMA_PATH, schema_text

    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / SCHEMA_PATH).is_file():
            return candidate / SCHEMA_PATH, None
    schema = Path(SCHEMA_PATH)
    write_text_atomic(schema, schema_text())
    return schema, schema
