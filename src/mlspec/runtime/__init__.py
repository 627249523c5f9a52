"""Code that runs in the systems mlspec generates, not in the compiler.

Each module here is ordinary Python, so the tests import it and call its functions and ruff
lints it; the targets copy its text into the generated tree verbatim:

- `airflow_tasks`: the task bodies of the Airflow DAGs (`airflow/dags/mlspec_runtime.py`);
- `kfp_components`: the lightweight components of each Kubeflow training pipeline (KFP
  embeds a component's source text, so they must stand in the pipeline file itself).

A module marks what is emitted with `# mlspec-emit: <section>` lines: the text after such a
line, up to the next one, belongs to that section; the text above the first marker (a note
for readers, names the generated file defines itself) is never emitted. The compiler only
reads these files, it never imports them (they would pull in kfp), and they import nothing
of mlspec (the generated files must run without it).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

EMIT_MARKER = "# mlspec-emit:"
ALWAYS = "always"  # the section every generated file gets


@lru_cache(maxsize=None)
def emitted_sections(module: str) -> tuple[tuple[str, str], ...]:
    """The (section, text) pairs of the runtime module `module`, in file order."""
    # Universal newlines: the emitted text has LF endings whatever the checkout has.
    source = (Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8")
    sections: list[tuple[str, list[str]]] = []
    for line in source.splitlines(keepends=True):
        if line.startswith(EMIT_MARKER):
            sections.append((line[len(EMIT_MARKER):].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    if not sections:
        raise ValueError(f"mlspec.runtime.{module} has no `{EMIT_MARKER}` line")
    return tuple((name, "".join(lines)) for name, lines in sections)


def emitted_source(module: str, sections: Collection[str] = (ALWAYS,)) -> str:
    """The text of `module` that goes into a generated file: its sections named in `sections`,
    in file order, exactly as written."""
    return "".join(text for name, text in emitted_sections(module) if name in sections)
