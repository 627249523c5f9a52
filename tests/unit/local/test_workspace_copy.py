"""The work folder's spec copy of `mlspec run --local`: the spec is read by the front end every
command uses (its guards included), and the copy is the spec with the local overlay spliced in,
so it keeps the spec's comments, layout and query text and differs from it by exactly the
values that point it at this machine."""

from __future__ import annotations

import difflib

import pytest

from conftest import SPECS
from mlspec.errors import SpecError
from mlspec.local.workspace import prepare_workspace


def test_the_copy_is_the_spec_with_only_the_local_values_changed(tmp_path):
    original = (SPECS / "customer-churn.yaml").read_text(encoding="utf-8")
    spec = tmp_path / "customer-churn.yaml"
    spec.write_text(original, encoding="utf-8")
    work = tmp_path / "work"
    workspace = prepare_workspace(spec, work)
    copy = workspace.spec.read_text(encoding="utf-8")
    removed = [line for line in difflib.ndiff(original.splitlines(), copy.splitlines()) if line.startswith("- ")]
    added = [line for line in difflib.ndiff(original.splitlines(), copy.splitlines()) if line.startswith("+ ")]
    # every comment of the spec is still there; a changed value changes its line, and the one
    # removed key (`platform.objectStore`, written on one line) takes its line
    assert [c for c in original.splitlines() if c.lstrip().startswith("#")] == \
        [c for c in copy.splitlines() if c.lstrip().startswith("#")]
    assert workspace.overlay.removed == ("platform.objectStore",)
    assert len(removed) == len(added) + 1 and any(line.startswith("-   objectStore:") for line in removed)
    # each changed line now names a place in the work folder, and only the overlay's values changed
    assert all(str(work) in line for line in added), added
    for key, value in workspace.overlay.values.items():
        assert value in copy, key
    assert workspace.overlay.values["datasets.customers.storage"] == str(work / "store" / "raw-data" /
                                                                          "customers.parquet")


def test_a_spec_given_as_a_link_is_refused_by_the_loader_unread(tmp_path):
    """The front end's guards apply: a symbolic link named as the spec is not followed (E012)."""
    target = tmp_path / "real.yaml"
    target.write_text((SPECS / "minimal.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    link = tmp_path / "spec.yaml"
    link.symlink_to(target)
    with pytest.raises(SpecError) as caught:
        prepare_workspace(link, tmp_path / "work")
    assert [d.code for unit in caught.value.units for d in unit.diagnostics] == ["E012"]
    assert not (tmp_path / "work").exists()  # refused before the work folder was claimed


def test_locations_come_from_the_position_tree_of_the_spec(tmp_path):
    spec = tmp_path / "minimal.yaml"
    text = (SPECS / "minimal.yaml").read_text(encoding="utf-8")
    spec.write_text(text, encoding="utf-8")
    workspace = prepare_workspace(spec, tmp_path / "work")
    lines = text.splitlines()
    columns = 1 + lines.index("    columns:")
    assert workspace.where("datasets.page_views.columns") == f"{spec}:{columns}"
    assert workspace.where(("datasets", "page_views", "columns", "user_id")) == f"{spec}:{columns + 2}"
    # a key the spec does not write: the nearest one above it that it does
    assert workspace.where(("datasets", "page_views", "expectations")) == f"{spec}:{1 + lines.index('  page_views:')}"
