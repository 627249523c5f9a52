"""Property: preparing a local run (the spec copy compiled, every source's sample written: files
in their declared format, DuckDB tables for every table a query reads) never raises on a valid
spec: one to four entities, multi-entity views, every column type with and without bounds,
SQL sources with joins, CTEs and date filters, CSV, JSON and Parquet files. What cannot be
prepared is a located SpecError, never an exception from numpy, pandas, sqlglot or DuckDB."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.local.data import write_sources
from mlspec.local.workspace import prepare_workspace

FEATURE_TYPES = ["int8", "int16", "int32", "int64", "float32", "float64"]


@st.composite
def bounds(draw, column_type: str) -> dict:
    if not draw(st.booleans()):
        return {}
    top = {"int8": 100, "int16": 30_000}.get(column_type, 10**9)
    low = draw(st.integers(-top, top - 1))
    return {"min": low, "max": draw(st.integers(low, top))}


@st.composite
def sql_source(draw, table: str, columns: list[str], key: str) -> dict:
    """A query over `table` returning `columns`: plain, with a join on `key`, or through a CTE,
    filtered on the run's date in one of the ways Airflow's variables allow."""
    listed = ", ".join(f"t.{c}" for c in columns)
    date_filter = draw(st.sampled_from([
        "t.event_timestamp >= '{{ data_interval_start }}'", "t.day = '{{ ds }}'",
        "t.day_key = '{{ ds_nodash }}'", "t.event_timestamp <= '{{ ts }}'", None]))
    where = f" WHERE {date_filter}" if date_filter else ""
    shape = draw(st.sampled_from(["plain", "join", "cte"]))
    if shape == "plain":
        sql = f"SELECT {listed} FROM raw.{table} t{where}"
    elif shape == "join":
        region = draw(st.sampled_from(["'north'", "'south'"]))
        sql = (f"SELECT {listed} FROM raw.{table} t JOIN raw.{table}_dim d ON d.{key} = t.{key}"
               f"{where or ' WHERE 1 = 1'} AND d.region IN ({region}, 'east') AND d.active = TRUE")
    else:
        sql = (f"WITH t AS (SELECT * FROM raw.{table} s{where.replace('t.', 's.')})\n"
               f"SELECT {listed} FROM t JOIN raw.{table}_keys k USING ({key})")
    return {"sql": sql + "\n", "connection": "warehouse"}


def file_source(draw, name: str) -> dict:
    form = draw(st.sampled_from(["parquet", "csv", "json"]))
    source = {"uri": f"s3://landing/{name}/", "format": form}
    if form == "csv" and draw(st.booleans()):
        source["csv"] = {"delimiter": draw(st.sampled_from([";", "|", "\t"])), "encoding": "latin-1"}
    if form == "json":
        source["json"] = {"lines": draw(st.booleans())}
    return source


@st.composite
def specs(draw) -> dict:
    count = draw(st.integers(1, 4))
    keys = [f"k{i}" for i in range(count)]
    key_types = {k: draw(st.sampled_from(["int64", "string"])) for k in keys}
    datasets, views, features = {}, {}, []

    def source(name: str, columns: list[str], key: str) -> dict:
        return draw(sql_source(name, columns, key)) if draw(st.booleans()) else file_source(draw, name)

    for index in range(draw(st.integers(1, 3))):
        name = f"f{index}"
        own = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=min(2, count), unique=True))
        columns = {k: {"type": key_types[k], "nullable": False} for k in own}
        names = []
        for position in range(draw(st.integers(1, 3))):
            column_type = draw(st.sampled_from(FEATURE_TYPES))
            column = f"x{index}_{position}"
            columns[column] = {"type": column_type, **draw(bounds(column_type))}
            names.append(column)
        columns["event_timestamp"] = {"type": "timestamp", "nullable": False}
        datasets[name] = {"source": source(name, list(columns), own[0]), "storage": f"s3://raw-data/{name}/",
                          "schedule": "@daily", "columns": columns}
        views[f"v{index}"] = {"entities": [f"e{keys.index(k)}" for k in own], "source": name,
                              "timestampField": "event_timestamp", "ttl": "30d",
                              "features": {c: columns[c]["type"] for c in names}}
        features += [f"v{index}.{c}" for c in names]
    label_columns = {k: {"type": key_types[k], "nullable": False} for k in keys}
    label_columns |= {"y": {"type": "int8", "in": [0, 1], "nullable": False},
                      "event_timestamp": {"type": "timestamp", "nullable": False}}
    datasets["labels"] = {"source": source("labels", list(label_columns), keys[0]),
                          "storage": "s3://raw-data/labels/", "schedule": "@daily", "columns": label_columns}
    return {
        "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "prop"},
        "platform": {"objectStore": {"endpoint": "http://minio:9000", "credentialsSecret": "minio-credentials"},
                     "kubeflow": {"host": "http://ml-pipeline:8888"},
                     "feast": {"registry": "s3://feast-registry/prop/registry.db"}},
        "datasets": datasets,
        "entities": {f"e{i}": {"joinKeys": [k]} for i, k in enumerate(keys)},
        "featureViews": views,
        "models": {"m": {"task": "binary_classification", "features": features, "label": "labels.y",
                         "training": {"estimator": "sklearn.linear_model.LogisticRegression"}}},
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(spec=specs())
def test_preparing_a_run_never_raises_on_a_valid_spec(spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepare")
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    workspace = prepare_workspace(spec_file, folder / "work")
    sources = write_sources(workspace.system, workspace.databases, where=workspace.where,
                            locate=workspace.sql_place)
    assert set(sources.frames) == set(spec["datasets"])
    assert all(len(frame) > 0 for frame in sources.frames.values())
