"""File sources read what they say: a wildcard expands (as Python's recursive glob: `*` and `?`
within a folder, `**` across folders), a folder reads every file of the format under it, one object is
one object; on a local folder and on S3 (moto). Locations the tasks cannot read are refused by
`validate` (E112, tests/cases/invalid/value-unreadable-data-locations and tests/cli/test_file_sources.py);
the slow end-to-end run of a wildcard source is in tests/integration/airflow/test_ingest_partitions.py."""

from __future__ import annotations


import pandas as pd
import pytest

from mlspec.runtime import airflow_tasks as tasks
from support.runtime_tasks import hide_airflow_sdk

NAMES = ["activity/a.parquet", "activity/b.parquet", "activity/archive/old.parquet", "activity/2026/x.parquet",
         "activity/notes.txt", "activity/.hidden.parquet", "activity/_SUCCESS", "activity-2/c.parquet"]


@pytest.fixture(autouse=True)
def no_airflow(monkeypatch):
    hide_airflow_sdk(monkeypatch)


@pytest.fixture
def local(tmp_path):
    for index, name in enumerate(NAMES):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".parquet"):
            pd.DataFrame({"x": [index]}).to_parquet(path)
        else:
            path.write_text("not data")
    return tmp_path


@pytest.fixture
def s3(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = {"settings": {"s3_endpoint": ["mlspec__shop__s3_endpoint", None]}, "credentials": {}}
    with mock_aws():
        client = tasks.s3_client(config)
        client.create_bucket(Bucket="landing")
        for index, name in enumerate(NAMES):
            body = pd.DataFrame({"x": [index]}).to_parquet() if name.endswith(".parquet") else b"not data"
            client.put_object(Bucket="landing", Key=name, Body=body)
        yield config


CASES = [
    ("activity/*.parquet", ["activity/a.parquet", "activity/b.parquet"]),
    ("activity/**/*.parquet", ["activity/2026/x.parquet", "activity/a.parquet", "activity/archive/old.parquet",
                               "activity/b.parquet"]),
    ("activity/*/*.parquet", ["activity/2026/x.parquet", "activity/archive/old.parquet"]),
    ("activity/?.parquet", ["activity/a.parquet", "activity/b.parquet"]),
    ("activity/[ab].parquet", ["activity/a.parquet", "activity/b.parquet"]),
    ("activity*/*.parquet", ["activity-2/c.parquet", "activity/a.parquet", "activity/b.parquet"]),
    ("activity/", ["activity/2026/x.parquet", "activity/a.parquet", "activity/archive/old.parquet",
                   "activity/b.parquet"]),
    ("activity", ["activity/2026/x.parquet", "activity/a.parquet", "activity/archive/old.parquet",
                  "activity/b.parquet"]),
    ("activity/a.parquet", ["activity/a.parquet"]),
    ("activity/nothing-*.parquet", []),
]


@pytest.mark.parametrize("pattern, expected", CASES)
def test_local_patterns_folders_and_files(local, pattern, expected):
    listed = [name for name, _ in tasks.list_files({}, f"{local}/{pattern}", [".parquet"])]
    assert listed == [str(local / e) for e in sorted(expected, key=lambda e: str(local / e))]
    assert [name for name, _ in tasks.list_files({}, f"file://{local}/{pattern}", [".parquet"])] == listed


@pytest.mark.parametrize("pattern, expected", CASES)
def test_s3_patterns_prefixes_and_objects(s3, pattern, expected):
    listed = [name for name, _ in tasks.list_files(s3, f"s3://landing/{pattern}", [".parquet"])]
    assert listed == [f"s3://landing/{e}" for e in sorted(expected)]


def test_a_wildcard_source_reads_every_file_it_matches(local, s3):
    assert sorted(tasks.read_frame({}, f"{local}/activity/*.parquet", "parquet")["x"]) == [0, 1]
    assert sorted(tasks.read_frame(s3, "s3://landing/activity/*/*.parquet", "parquet")["x"]) == [2, 3]
    with pytest.raises(FileNotFoundError, match="no parquet files at s3://landing/activity/z\\*"):
        tasks.read_frame(s3, "s3://landing/activity/z*", "parquet")


def test_a_string_column_of_a_csv_or_json_source_is_read_as_written(tmp_path):
    """A code `007` of a string column stays `007` (pandas alone reads it as the number 7, which
    the cast then writes as `7`); the other columns keep pandas' inference."""
    (tmp_path / "codes.csv").write_text("code;n\n007;1\n042;2\n;3\n")
    (tmp_path / "codes.jsonl").write_text('{"code": "007", "n": 1}\n{"code": "042", "n": 2}\n{"code": null, "n": 3}\n')
    csv = tasks.read_frame({}, str(tmp_path / "codes.csv"), "csv", {"delimiter": ";", "header": True}, None, ["code"])
    json = tasks.read_frame({}, str(tmp_path / "codes.jsonl"), "json", {"lines": True}, None, ["code"])
    for frame in (csv, json):
        assert frame["code"][:2].tolist() == ["007", "042"] and frame["n"].tolist() == [1, 2, 3]
        assert frame["code"].isna().tolist() == [False, False, True]  # a null stays null, not the text "None"
