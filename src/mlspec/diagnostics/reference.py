"""The diagnostic codes as a Markdown page (`docs/codes.md`): what `mlspec codes ID` prints,
one section per code, each at a stable anchor (`#e207`) that the language server links every
diagnostic to (LSP `codeDescription.href`). Generated from the table in `codes.py`, committed,
and checked fresh by the tests, like the JSON Schema."""

from __future__ import annotations

from mlspec.diagnostics.codes import CODES

DOCS_PATH = "docs/codes.md"
COMMAND = "mlspec codes --format markdown > docs/codes.md"


def codes_markdown() -> str:
    lines = [
        "# Diagnostic codes",
        "",
        f"Generated from `src/mlspec/diagnostics/codes.py` by `{COMMAND}`; do not edit by hand.",
        "`mlspec codes ID` prints one of them in a terminal, and the language server (`mlspec lsp`) links each",
        "diagnostic to its section here (`docs/codes.md#e207`).",
        "",
        "| code | severity | stage | summary |",
        "|---|---|---|---|",
    ]
    lines += [f"| [{c.id}](#{c.id.lower()}) | {c.severity.value} | {c.stage} | {c.summary} |" for c in CODES.values()]
    for code in CODES.values():
        lines += ["", f"## {code.id}", "", f"**{code.summary}** ({code.severity.value}, stage: {code.stage})", "",
                  code.doc]
    return "\n".join(lines) + "\n"
