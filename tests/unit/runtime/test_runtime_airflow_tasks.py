"""The task bodies of the generated Airflow DAGs (mlspec.runtime.airflow_tasks), called in this
process on small synthetic data: settings, reading and staging files, the DVC stage's command
line, upload and the Kubeflow submission. The tasks that run a real tool are integration tests:
Great Expectations validation (tests/integration/gx/test_runtime_validate.py), DVC versioning
(tests/integration/dvc/test_runtime_version.py) and the Evidently drift check
(tests/integration/evidently/test_runtime_drift.py). No scheduler and no `airflow dags test`
(tests/integration/airflow/ runs the real DAGs); Airflow itself is not imported here, because
importing it reconfigures logging and warnings for the whole test session: where a task asks
Airflow for a Variable or a Connection, a stand-in `airflow.sdk` answers."""

from __future__ import annotations

import ast
import sys
import types

import pandas as pd
import pytest

from conftest import REPO
from support.headers import strip_hash_header
from support.runtime_tasks import CONTEXT, GOOD, ingest_config
from support.runtime_tasks import gx_analytics_off, no_airflow  # noqa: F401 (autouse fixtures)
from mlspec.runtime import airflow_tasks as tasks
from mlspec.runtime import emitted_source


class AirflowNotFoundException(Exception):
    """Named like Airflow's: the runtime tells "no such connection" from other errors by the name."""


@pytest.fixture
def airflow(monkeypatch):
    """A stand-in `airflow.sdk` whose Variables and Connections the test fills in."""
    variables: dict[str, str] = {}
    connections: dict[str, object] = {}

    class Variable:
        @staticmethod
        def get(key, default=None):
            return variables.get(key, default)

    class Connection:
        @staticmethod
        def get(conn_id):
            found = connections.get(conn_id)
            if isinstance(found, Exception):
                raise found
            if found is None:
                raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")
            return found

    sdk = types.ModuleType("airflow.sdk")
    sdk.Variable, sdk.Connection = Variable, Connection
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    return types.SimpleNamespace(variables=variables, connections=connections)


def connection(login=None, password=None, **extra):
    return types.SimpleNamespace(login=login, password=password, extra_dejson=extra)


# --- the module as emitted --------------------------------------------------------------------


def test_emitted_helper_imports_only_the_standard_library_at_the_top():
    """The DAG files load it by path in Airflow workers and DVC runs it as a script, where
    mlspec is not installed: every third-party import is inside the function that needs it."""
    tree = ast.parse(emitted_source("airflow_tasks"))
    imported = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported


def test_the_generated_helper_is_this_module():
    generated = (REPO / "generated/customer-churn/airflow/dags/mlspec_runtime.py").read_text(encoding="utf-8")
    assert strip_hash_header(generated) == emitted_source("airflow_tasks")


# --- settings -----------------------------------------------------------------------------------


def test_a_setting_is_its_environment_variable_else_the_spec_default(monkeypatch):
    config = {"settings": {"storage": ["mlspec__shop__customers__storage", "s3://lake/customers.parquet"]}}
    assert tasks.setting(config, "storage") == "s3://lake/customers.parquet"
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__CUSTOMERS__STORAGE", "/data/customers.parquet")
    assert tasks.setting(config, "storage") == "/data/customers.parquet"
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__CUSTOMERS__STORAGE", "")  # empty: not set
    assert tasks.setting(config, "storage") == "s3://lake/customers.parquet"


def test_a_setting_is_read_from_airflow_variables_when_no_environment_variable_is_set(airflow, monkeypatch):
    config = {"settings": {"kfp_host": ["mlspec__shop__churn__kfp_host", None]}}
    assert tasks.setting(config, "kfp_host") is None
    airflow.variables["mlspec__shop__churn__kfp_host"] = "http://kfp.example:8888"
    assert tasks.setting(config, "kfp_host") == "http://kfp.example:8888"
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__CHURN__KFP_HOST", "http://other:8888")
    assert tasks.setting(config, "kfp_host") == "http://other:8888"  # the environment wins


def test_root_is_the_system_folder_above_the_dag_file_unless_set(tmp_path, monkeypatch):
    config = ingest_config(tmp_path)
    assert tasks.root(config) == str(tmp_path / "generated" / "shop")
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__ROOT", "/opt/shop")
    assert tasks.root(config) == "/opt/shop"


def test_each_run_stages_its_own_file_under_a_safe_name(tmp_path):
    config = ingest_config(tmp_path)
    path = tasks.staging_path(config, CONTEXT)
    assert path == str(tmp_path / "staging" / "shop" / "customers" / "manual__2026-01-02T03_04_05_00_00"
                       / "data.parquet")
    assert (tmp_path / "staging" / "shop" / "customers").is_dir()
    escaped = tasks.staging_path(config, {"run_id": "../../etc"})
    assert escaped == str(tmp_path / "staging" / "shop" / "customers" / ".._.._etc" / "data.parquet")


# --- object store credentials ---------------------------------------------------------------------


def test_credentials_come_from_the_airflow_connection(airflow, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    airflow.connections["minio"] = connection("AKIA", "secret", region_name="eu-west-1")
    assert tasks.credentials({"credentials": {"conn_id": "minio", "region": None}}) == {
        "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "eu-west-1"}
    # The spec's region wins over the connection's.
    assert tasks.credentials({"credentials": {"conn_id": "minio", "region": "us-west-2"}})[
        "AWS_DEFAULT_REGION"] == "us-west-2"


def test_without_the_connection_the_aws_environment_is_used(airflow, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert tasks.credentials({"credentials": {"conn_id": "minio", "region": None}}) == {
        "AWS_DEFAULT_REGION": "ap-south-1"}
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert tasks.credentials({}) == {"AWS_DEFAULT_REGION": "us-east-1"}


def test_a_broken_secrets_backend_is_not_taken_for_a_missing_connection(airflow):
    airflow.connections["minio"] = PermissionError("vault said no")
    with pytest.raises(PermissionError, match="vault said no"):
        tasks.credentials({"credentials": {"conn_id": "minio", "region": None}})


# --- files ------------------------------------------------------------------------------------------


def test_file_format_follows_the_suffix():
    assert [tasks.file_format(p) for p in ("a.csv", "a.json", "a.jsonl", "a.parquet", "s3://b/folder")] == \
        ["csv", "json", "json", "parquet", "parquet"]


def test_a_folder_is_read_as_all_its_files_of_the_format_in_name_order(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"x": [3, 4]}).to_csv(folder / "part-1.csv", index=False)
    pd.DataFrame({"x": [1, 2]}).to_csv(folder / "part-0.csv", index=False)
    (folder / "notes.txt").write_text("not data")
    assert tasks.read_frame({}, f"file://{folder}", "csv")["x"].tolist() == [1, 2, 3, 4]
    lines = tmp_path / "log.jsonl"
    lines.write_text('{"x": 1}\n{"x": 2}\n')
    assert tasks.read_frame({}, str(lines))["x"].tolist() == [1, 2]


def test_a_folder_without_files_of_the_format_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no parquet files at {tmp_path}"):
        tasks.read_frame({}, str(tmp_path), "parquet")


def test_object_store_upload_and_read_of_a_prefix(tmp_path, monkeypatch):
    """boto3 against moto's in-process S3: `put` uploads, a prefix reads every Parquet part."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = {"settings": {"s3_endpoint": ["mlspec__shop__s3_endpoint", None]}, "credentials": {}}
    with mock_aws():
        tasks.s3_client(config).create_bucket(Bucket="mlspec-lake")
        for index in (1, 0):
            part = tmp_path / f"part-{index}.parquet"
            pd.DataFrame({"x": [index]}).to_parquet(part)
            tasks.put(config, str(part), f"s3://mlspec-lake/log/part-{index}.parquet")
        assert tasks.read_frame(config, "s3://mlspec-lake/log/")["x"].tolist() == [0, 1]
        assert tasks.read_frame(config, "s3://mlspec-lake/log/part-1.parquet")["x"].tolist() == [1]


# --- extract ----------------------------------------------------------------------------------------


def test_cast_columns_gives_each_declared_column_its_suites_dtype():
    frame = pd.DataFrame({
        "id": ["1", "2", "3"],
        "age": [30, None, 41],
        "score": [1, 2, 3],
        "vip": [True, None, False],
        "code": ["a7", None, 9],
        "seen": ["2026-01-01T10:00:00+01:00", "2026-01-02T00:00:00+00:00", None],
        "extra": ["kept", "as", "is"],
    })
    columns = [{"name": "id", "type": "int64"}, {"name": "age", "type": "int32"},
               {"name": "score", "type": "float32"}, {"name": "vip", "type": "bool"},
               {"name": "code", "type": "string"}, {"name": "seen", "type": "timestamp"},
               {"name": "absent", "type": "int64"}]
    cast = tasks.cast_columns(frame, columns)
    assert cast["id"].dtype == "int64" and cast["id"].tolist() == [1, 2, 3]
    assert cast["age"].dtype == "float64"  # an integer column with nulls, as pandas stores it
    assert cast["score"].dtype == "float32"
    assert cast["vip"].tolist() == [True, None, False]
    assert cast["code"].tolist() == ["a7", None, "9"]
    assert str(cast["seen"].dtype) == "datetime64[ns]"
    assert cast["seen"][0] == pd.Timestamp("2026-01-01T09:00:00")  # in UTC, without the zone
    assert cast["extra"].tolist() == ["kept", "as", "is"] and "absent" not in cast
    assert frame["id"].tolist() == ["1", "2", "3"]  # the input is left alone


def test_a_value_that_cannot_be_cast_names_the_column_and_type():
    with pytest.raises(ValueError, match="column 'age' cannot be read as int32"):
        tasks.cast_columns(pd.DataFrame({"age": ["thirty"]}), [{"name": "age", "type": "int32"}])


def test_extract_stages_the_source_file_as_typed_parquet(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,age,plan\n1,34,free\n2,,pro\n3,51,free\n")
    config = ingest_config(tmp_path)
    result = tasks.run_step("extract", config, config.pop("dag_file"), CONTEXT)
    assert result == {"rows": 3, "path": tasks.staging_path(config, CONTEXT)}
    staged = pd.read_parquet(result["path"])
    assert staged["customer_id"].dtype == "int64" and staged["age"].dtype == "float64"
    assert staged["plan"].tolist() == ["free", "pro", "free"]


def test_extract_runs_the_rendered_sql_on_the_connections_hook(tmp_path, airflow):
    import sqlite3

    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as db:
        db.execute("create table customers (customer_id integer, age integer, plan text)")
        db.executemany("insert into customers values (?, ?, ?)", [(1, 30, "free"), (2, 40, "pro"), (3, 50, "gold")])

    class SqliteHook:  # what `Connection.get_hook()` returns for a database connection
        def get_df(self, sql, df_type):
            assert df_type == "pandas"
            with sqlite3.connect(database) as db:
                return pd.read_sql(sql, db)

    airflow.connections["shop_db"] = types.SimpleNamespace(conn_type="sqlite", password=None, get_hook=SqliteHook)
    config = ingest_config(tmp_path)
    config["source"] = {"kind": "sql", "connection": "shop_db"}
    context = dict(CONTEXT, templates_dict={"sql": "select * from customers where plan != 'gold'"})
    result = tasks.extract(config, context)
    assert result["rows"] == 2
    assert pd.read_parquet(result["path"])["customer_id"].tolist() == [1, 2]


# --- the DVC stage's command line (its runs with Great Expectations: tests/integration/gx/) ----------


def test_dvc_stage_command_rejects_missing_arguments(capsys):
    with pytest.raises(SystemExit) as exited:
        tasks.main(["validate", "--suite", "s.json"])
    assert exited.value.code == 2 and "--data" in capsys.readouterr().err


# --- upload (versioning with DVC: tests/integration/dvc/) -----------------------------------------


def test_upload_copies_the_staged_file_to_the_datasets_storage(tmp_path):
    """As the run's partition of the storage root (tests/unit/runtime/test_partitions.py has the layout)."""
    config = ingest_config(tmp_path)
    config["partition"] = {"column": "ds", "date_format": "%Y-%m-%d", "file": "part-0.parquet", "per_run": False}
    context = dict(CONTEXT, logical_date=pd.Timestamp("2026-01-02T03:04:05Z").to_pydatetime())
    GOOD.to_parquet(tasks.staging_path(config, context))
    partition = tmp_path / "lake" / "customers.parquet" / "ds=2026-01-02" / "part-0.parquet"
    assert tasks.upload(config, context) == f"{tmp_path / 'lake' / 'customers.parquet'}/ds=2026-01-02/part-0.parquet"
    assert pd.read_parquet(partition).equals(GOOD)


# --- training -----------------------------------------------------------------------------------


def train_config(tmp_path) -> dict:
    return {"system": "shop", "model": "churn", "dag_id": "shop__train_churn",
            "dag_file": str(tmp_path / "shop" / "airflow" / "dags" / "shop__train_churn.py"),
            "pipeline_package": "kfp/churn_training.yaml", "experiment": "shop", "timeout_seconds": 60,
            "settings": {"root": ["mlspec__shop__root", None],
                         "kfp_host": ["mlspec__shop__churn__kfp_host", None],
                         "pipeline_package": ["mlspec__shop__churn__pipeline_package", None]}}


def test_submitting_without_a_kubeflow_host_names_the_variable_to_set(tmp_path):
    with pytest.raises(ValueError, match="set the Airflow Variable 'mlspec__shop__churn__kfp_host'"):
        tasks.submit_pipeline(train_config(tmp_path), CONTEXT)


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_submit_waits_for_the_kubeflow_run_and_fails_with_it(tmp_path, monkeypatch, state):
    import kfp

    calls = []

    class Client:  # stands in for a Kubeflow Pipelines server
        def __init__(self, host):
            calls.append(("host", host))

        def create_run_from_pipeline_package(self, package, arguments, run_name, experiment_name):
            calls.append(("run", package, run_name, experiment_name))
            return types.SimpleNamespace(run_id="run-7")

        def wait_for_run_completion(self, run_id, timeout):
            calls.append(("wait", run_id, timeout))
            return types.SimpleNamespace(state=state)

    monkeypatch.setattr(kfp, "Client", Client)
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__CHURN__KFP_HOST", "http://kfp:8888")
    config = train_config(tmp_path)
    if state == "SUCCEEDED":
        assert tasks.submit_pipeline(config, CONTEXT) == "run-7"
    else:
        with pytest.raises(RuntimeError, match="Kubeflow run run-7 ended in state FAILED"):
            tasks.submit_pipeline(config, CONTEXT)
    package = str(tmp_path / "shop" / "kfp" / "churn_training.yaml")
    assert calls == [("host", "http://kfp:8888"),
                     ("run", package, f"shop__train_churn {CONTEXT['run_id']}", "shop"),
                     ("wait", "run-7", 60)]


def test_the_assets_that_started_a_run_are_known_by_the_names_the_ingestion_dags_update():
    """The Feast DAG materializes only the views whose source landed: Airflow hands it the
    triggering events keyed by the asset's unique key, and the ingestion DAGs update assets by
    name (`<system>.<dataset>`), so the name, not the URI, is what is compared."""
    from mlspec.runtime.airflow_tasks import _triggering_assets

    class Key:  # airflow.sdk's AssetUniqueKey: a name and a URI
        def __init__(self, name, uri):
            self.name, self.uri = name, uri

    landed, idle = Key("customer-churn.customer_activity", "s3://x"), Key("customer-churn.customers", "s3://y")
    assert _triggering_assets({"triggering_asset_events": {landed: [object()], idle: []}}) == {
        "customer-churn.customer_activity"}
    assert _triggering_assets({}) == set()
