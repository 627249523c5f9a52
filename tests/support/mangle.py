"""Near-valid specs for property tests: a real example spec damaged line by line, the way
a hurried edit or a bad merge damages one."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

DAMAGED_EXAMPLES = ("customer-churn.yaml", "payments-risk.yaml")


def mangled_spec(data: st.DataObject, specs: Path, *, max_edits: int, indents: list[str],
                 splice: st.SearchStrategy[str]) -> str:
    """One of the example specs with 1..max_edits lines deleted, duplicated, indented by one
    of `indents`, dedented, or with text drawn from `splice` put into them."""
    text = (specs / data.draw(st.sampled_from(DAMAGED_EXAMPLES))).read_text()
    lines = text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, max_edits))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "splice"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = data.draw(st.sampled_from(indents)) + lines[i]
        elif action == "dedent":
            lines[i] = lines[i].lstrip(" ")
        else:
            at = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + data.draw(splice) + lines[i][at:]
    return "".join(lines)
