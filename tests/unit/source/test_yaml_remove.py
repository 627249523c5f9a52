"""yaml_edit.remove_key: a key and its value leave the text, every other byte stays."""

from __future__ import annotations

import pytest

from mlspec.source.yaml_edit import EditError, remove_key

TEXT = """\
# top comment
platform:
  objectStore:            # the lake
    endpoint: http://minio:9000
    credentialsSecret: minio
  gcs: {credentialsSecret: gcs}
  mlflow: {trackingUri: http://mlflow:5000}  # kept
name: x
"""


def test_a_block_entry_goes_with_the_lines_it_spans():
    assert remove_key(TEXT, ("platform", "objectStore")) == TEXT.replace(
        "  objectStore:            # the lake\n    endpoint: http://minio:9000\n    credentialsSecret: minio\n", "")


def test_a_flow_entry_goes_with_one_comma():
    assert remove_key("p: {a: 1, b: 2, c: 3}\n", ("p", "b")) == "p: {a: 1, c: 3}\n"
    assert remove_key("p: {a: 1, b: 2, c: 3}\n", ("p", "c")) == "p: {a: 1, b: 2}\n"
    assert remove_key("p: {a: 1}\n", ("p", "a")) == "p: {}\n"


def test_a_missing_key_changes_nothing_and_an_emptied_block_mapping_is_refused():
    assert remove_key(TEXT, ("platform", "azure")) == TEXT
    assert remove_key(TEXT, ("nothing", "here")) == TEXT
    with pytest.raises(EditError, match="empty"):
        remove_key("p:\n  a: 1\nq: 2\n", ("p", "a"))
