"""The task bodies of the generated Airflow DAGs (mlspec.runtime.airflow_tasks), called in this
process on small synthetic data: settings, reading and staging files, Great Expectations
validation, the DVC stage's command line, DVC versioning, upload, the Kubeflow submission and
the Evidently drift check. No scheduler and no `airflow dags test` (the slow tests run the real
DAGs); Airflow itself is not imported here, because importing it reconfigures logging and
warnings for the whole test session: where a task asks Airflow for a Variable or a Connection,
a stand-in `airflow.sdk` answers."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import shutil
import sys
import types

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from support.headers import strip_hash_header
from mlspec.runtime import airflow_tasks as tasks
from mlspec.runtime import emitted_source

SUITE = {
    "name": "shop.customers",
    "meta": {},
    "expectations": [
        {"type": "expect_column_to_exist", "kwargs": {"column": "customer_id"}, "meta": {}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "customer_id"}, "meta": {}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 18, "max_value": 120}, "meta": {}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "plan", "value_set": ["free", "pro"]}, "meta": {}},
    ],
}
GOOD = pd.DataFrame({"customer_id": [1, 2, 3], "age": [20, 35, 64], "plan": ["free", "pro", "free"]})
BAD = GOOD.assign(age=[20, 7, 64])  # one customer too young for the suite
CONTEXT = {"run_id": "manual__2026-01-02T03:04:05+00:00"}


@pytest.fixture(autouse=True)
def no_airflow(monkeypatch):
    """By default Airflow is not installed: `from airflow.sdk import ...` raises ImportError, so a
    setting falls back to its default (as in the DVC stage, which runs without Airflow)."""
    monkeypatch.setitem(sys.modules, "airflow.sdk", None)


@pytest.fixture(autouse=True)
def gx_analytics_off(monkeypatch):
    """validate_frame turns Great Expectations' analytics off with os.environ.setdefault; set it
    here so that the variable is put back after each test."""
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")


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


def ingest_config(tmp_path, **settings) -> dict:
    """A CONFIG like the one a generated ingestion DAG passes, rooted in tmp_path."""
    root = tmp_path / "generated" / "shop"
    return {
        "system": "shop",
        "dataset": "customers",
        "dag_id": "shop__ingest_customers",
        "dag_file": str(root / "airflow" / "dags" / "shop__ingest_customers.py"),
        "source": {"kind": "file", "format": "csv"},
        "columns": [{"name": "customer_id", "type": "int64", "nullable": False},
                    {"name": "age", "type": "int32", "nullable": True},
                    {"name": "plan", "type": "string", "nullable": False}],
        "suite": "great_expectations/customers.json",
        "dvc": None,
        "credentials": {"conn_id": None, "region": None},
        "settings": {
            "root": ["mlspec__shop__root", None],
            "s3_endpoint": ["mlspec__shop__s3_endpoint", None],
            "staging_dir": ["mlspec__shop__staging_dir", str(tmp_path / "staging")],
            "source_uri": ["mlspec__shop__customers__source_uri", str(tmp_path / "customers.csv")],
            "storage": ["mlspec__shop__customers__storage", str(tmp_path / "lake" / "customers.parquet")],
            **settings,
        },
    }


def suite() -> dict:
    return copy.deepcopy(SUITE)


def write_suite(config) -> None:
    path = os.path.join(tasks.root(config), config["suite"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(SUITE, handle)


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

    airflow.connections["shop_db"] = types.SimpleNamespace(get_hook=SqliteHook)
    config = ingest_config(tmp_path)
    config["source"] = {"kind": "sql", "connection": "shop_db"}
    context = dict(CONTEXT, templates_dict={"sql": "select * from customers where plan != 'gold'"})
    result = tasks.extract(config, context)
    assert result["rows"] == 2
    assert pd.read_parquet(result["path"])["customer_id"].tolist() == [1, 2]


# --- validate (Great Expectations, in process) ------------------------------------------------------


def test_validate_passes_a_good_frame_and_fails_a_bad_row_naming_the_expectation(tmp_path):
    config = ingest_config(tmp_path)
    write_suite(config)
    GOOD.to_parquet(tasks.staging_path(config, CONTEXT))
    assert tasks.validate(config, CONTEXT) == {"suite": "shop.customers", "evaluated": 4, "rows": 3}

    BAD.to_parquet(tasks.staging_path(config, CONTEXT))
    with pytest.raises(ValueError) as failed:
        tasks.validate(config, CONTEXT)
    assert str(failed.value) == (
        "Great Expectations suite 'shop.customers' failed 1 of 4 expectations on 3 rows:\n"
        "  - expect_column_values_to_be_between(column='age', min_value=18, max_value=120):"
        " 1 unexpected value(s), e.g. [7]")


def test_failure_report_lists_every_failed_expectation_with_what_was_seen():
    outcome = tasks.validate_frame(suite(), pd.DataFrame({"customer_id": [1, 1], "age": [30, 40],
                                                        "plan": ["free", "gold"]}))
    assert outcome["success"] is False and outcome["evaluated"] == 4
    assert [f["expectation"] for f in outcome["failed"]] == ["expect_column_values_to_be_unique",
                                                             "expect_column_values_to_be_in_set"]
    report = tasks.failure_report(outcome)
    assert "expect_column_values_to_be_unique(column='customer_id'): 2 unexpected value(s), e.g. [1, 1]" in report
    assert "value_set=['free', 'pro']): 1 unexpected value(s), e.g. ['gold']" in report
    json.dumps(outcome)  # plain data: it goes into the DVC stage's report and to XCom


def test_dvc_stage_command_writes_the_report_and_exits_1_on_failure(tmp_path, capsys):
    suite, data = tmp_path / "customers.json", tmp_path / "customers.parquet"
    suite.write_text(json.dumps(SUITE))
    GOOD.to_parquet(data)
    report = tmp_path / "reports" / "customers.validation.json"
    arguments = ["validate", "--suite", str(suite), "--data", str(data), "--report", str(report)]
    assert tasks.main(arguments) == 0
    assert json.loads(report.read_text()) == {"suite": "shop.customers", "success": True, "rows": 3,
                                              "evaluated": 4, "failed": []}

    BAD.to_parquet(data)
    assert tasks.main(arguments) == 1
    written = json.loads(report.read_text())
    assert written["success"] is False
    assert [f["expectation"] for f in written["failed"]] == ["expect_column_values_to_be_between"]
    assert "expect_column_values_to_be_between(column='age'" in capsys.readouterr().err


def test_dvc_stage_command_rejects_missing_arguments(capsys):
    with pytest.raises(SystemExit) as exited:
        tasks.main(["validate", "--suite", "s.json"])
    assert exited.value.code == 2 and "--data" in capsys.readouterr().err


# --- version (DVC) and upload -------------------------------------------------------------------


@pytest.mark.slow  # four `dvc` commands in subprocesses, about a second each
def test_version_adds_the_staged_file_to_dvc_and_pushes_it_to_the_remote(tmp_path):
    remote = tmp_path / "remote"
    config = ingest_config(tmp_path, dvc_repo=["mlspec__shop__dvc_repo", str(tmp_path / "dvc-repo")])
    config["dvc"] = {"remote": "lake", "url": str(remote), "path": "data/customers.parquet", "config": "dvc/config"}
    staged = tasks.staging_path(config, CONTEXT)
    GOOD.to_parquet(staged)
    md5 = hashlib.md5(open(staged, "rb").read()).hexdigest()
    assert tasks.version(config, CONTEXT) == {"path": "data/customers.parquet", "md5": md5, "remote": str(remote)}
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == open(staged, "rb").read()
    assert "md5: " + md5 in (tmp_path / "dvc-repo" / "data" / "customers.parquet.dvc").read_text()


def test_upload_copies_the_staged_file_to_the_datasets_storage(tmp_path):
    """As the run's partition of the storage root (tests/test_partitions.py has the layout)."""
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


# --- drift (Evidently, in process) ----------------------------------------------------------------

RUN_END = pd.Timestamp("2026-01-02T12:00:00Z")  # the drift window (24 h) ends here


def churn_features(n: int, seed: int, shift: float, end: pd.Timestamp, hours: int = 20) -> pd.DataFrame:
    """The churn model's four features, stamped within `hours` before `end`; `shift` moves them."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "total_purchases": rng.normal(50 + 40 * shift, 10, n),
        "avg_order_value": rng.normal(20 + 15 * shift, 4, n),
        "days_since_last_purchase": rng.integers(0, 30, n) + int(30 * shift),
        "support_tickets_count": rng.poisson(1 + 4 * shift, n),
        "timestamp": end - pd.to_timedelta(rng.integers(0, hours * 3600, n), unit="s"),
    })


@pytest.fixture
def drift_config(tmp_path):
    """The churn model's generated Evidently check, a reference file and a prediction log path."""
    root = tmp_path / "customer-churn"
    (root / "monitoring").mkdir(parents=True)
    shutil.copy(REPO / "generated/customer-churn/monitoring/churn_drift.py", root / "monitoring")
    reference = tmp_path / "reference.parquet"
    churn_features(600, 1, 0.0, pd.Timestamp("2025-12-01T00:00:00Z")).to_parquet(reference)
    return {
        "system": "customer-churn", "model": "churn", "dag_id": "customer_churn__drift_churn",
        "dag_file": str(root / "airflow" / "dags" / "customer_churn__drift_churn.py"),
        "check": "monitoring/churn_drift.py", "window_seconds": 24 * 3600, "timestamp_column": "timestamp",
        "branches": {"drift": "trigger_retraining", "no_drift": "no_action"},
        "credentials": {"conn_id": None, "region": None},
        "settings": {"root": ["mlspec__customer_churn__root", None],
                     "reference": ["mlspec__customer_churn__churn__reference", str(reference)],
                     "predictions": ["mlspec__customer_churn__churn__predictions", str(tmp_path / "predictions")]},
    }


def write_predictions(config, *frames) -> None:
    folder = config["settings"]["predictions"][1]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for index, frame in enumerate(frames):
        frame.to_parquet(f"{folder}/part-{index}.parquet")


class TaskInstance:
    def __init__(self, result):
        self.result = result

    def xcom_pull(self, task_ids):
        assert task_ids == "check_drift"
        return self.result


def test_drifted_predictions_in_the_window_take_the_drift_branch(drift_config):
    old = churn_features(200, 9, 0.0, RUN_END - pd.Timedelta(days=2))  # before the window: ignored
    write_predictions(drift_config, churn_features(300, 2, 1.0, RUN_END), old)
    result = tasks.check_drift(drift_config, {"data_interval_end": RUN_END})
    assert result["drift_detected"] is True and result["drift_share"] > 0.3
    assert set(result["drifted_columns"]) == {"total_purchases", "avg_order_value",
                                               "days_since_last_purchase", "support_tickets_count"}
    assert result["rows"] == 300 and result["reference_rows"] == 600
    assert result["window"] == ["2026-01-01 12:00:00+00:00", "2026-01-02 12:00:00+00:00"]
    ti = TaskInstance(result)
    assert tasks.decide(drift_config, {"ti": ti}) == "trigger_retraining"
    with pytest.raises(RuntimeError, match=r"model 'churn': drift share 1.0 is above 0.3; drifted columns"):
        tasks.alert_drift(drift_config, {"ti": ti})


def test_undrifted_predictions_take_the_no_action_branch(drift_config):
    write_predictions(drift_config, churn_features(300, 3, 0.0, RUN_END))
    result = tasks.check_drift(drift_config, {"data_interval_end": RUN_END.to_pydatetime()})
    assert result["drift_detected"] is False and result["drifted_columns"] == [] and result["rows"] == 300
    assert tasks.decide(drift_config, {"ti": TaskInstance(result)}) == "no_action"


def test_no_predictions_in_the_window_is_no_drift(drift_config):
    write_predictions(drift_config, churn_features(100, 4, 1.0, RUN_END - pd.Timedelta(days=3)))
    result = tasks.check_drift(drift_config, {"logical_date": RUN_END})
    assert result == {"drift_detected": False, "drift_share": None, "rows": 0,
                      "window": ["2026-01-01 12:00:00+00:00", "2026-01-02 12:00:00+00:00"]}
    assert tasks.decide(drift_config, {"ti": TaskInstance(result)}) == "no_action"
