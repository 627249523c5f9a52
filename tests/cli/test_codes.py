"""`mlspec codes` lists every diagnostic code and explains one. (The table itself:
tests/unit/diagnostics/test_codes.py.)"""

from __future__ import annotations

from click.testing import CliRunner

from mlspec.cli import cli
from mlspec.diagnostics import codes


def test_mlspec_codes_lists_and_explains():
    runner = CliRunner()
    listing = runner.invoke(cli, ["codes"])
    assert listing.exit_code == 0
    assert len(listing.output.splitlines()) == len(codes.CODES)
    assert "E201  error    check     unknown dataset" in listing.output

    one = runner.invoke(cli, ["codes", "e207"])
    assert one.exit_code == 0
    assert one.output.startswith("E207: unknown SLO\n") and "not defined under `slos`" in one.output

    unknown = runner.invoke(cli, ["codes", "E2O1"])
    assert unknown.exit_code == 2 and "`E201`" in unknown.output


def test_docs_codes_md_is_fresh_and_has_a_section_per_code():
    """docs/codes.md is what `mlspec codes --format markdown` prints (the language server links
    each diagnostic to its section there, `#e207`)."""
    from conftest import REPO
    from mlspec.diagnostics.reference import COMMAND

    printed = CliRunner().invoke(cli, ["codes", "--format", "markdown"])
    assert printed.exit_code == 0
    committed = (REPO / "docs" / "codes.md").read_text(encoding="utf-8")
    assert committed == printed.output, f"docs/codes.md is stale: run `{COMMAND}` and commit it"
    for code in codes.CODES:
        assert f"\n## {code}\n" in committed
