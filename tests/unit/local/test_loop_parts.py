"""The parts of the promote, serve and drift stages of `mlspec run --local` that need no
running tool: the logged exchange per protocol (read back by the drift DAG's own reader),
the traffic's time, the drifted traffic, the published object lookup, the progress bar and
the task count it draws from Airflow's database."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import sqlite3

from mlspec.local.airflow_home import AirflowHome
from mlspec.local.inference_log import REQUEST, RESPONSE, log_request
from mlspec.local.loop_stages import traffic_time
from mlspec.local.repos import LocalRepos, published_object
from mlspec.local.serving import exchange
from mlspec.runtime.airflow_tasks import kserve_frame

COLUMNS = ["total_purchases", "support_tickets_count"]
ROWS = [[1.5, 3], [2.5, 4]]


def _events(protocol):
    request, response = exchange(COLUMNS, ROWS, [0, 1], protocol, "isvc")
    where = {"isvc": "isvc", "namespace": "ns", "log_url": "s3://b/p"}
    return request, [log_request("e1", REQUEST, request, "2026-01-02T10:59:00.000000Z", **where),
                     log_request("e1", RESPONSE, response, "2026-01-02T10:59:00.000000Z", **where)]


def test_a_v2_exchange_is_one_typed_tensor_per_feature_and_reads_back_as_the_rows():
    request, events = _events("v2")
    assert request == {"inputs": [{"name": "total_purchases", "shape": [2], "datatype": "FP64", "data": [1.5, 2.5]},
                                  {"name": "support_tickets_count", "shape": [2], "datatype": "INT64",
                                   "data": [3, 4]}]}
    frame = kserve_frame(events, COLUMNS)
    assert frame[COLUMNS].values.tolist() == ROWS and frame["prediction"].tolist() == [0, 1]


def test_a_v1_exchange_is_instances_and_reads_back_as_the_rows():
    request, events = _events("v1")
    assert request == {"instances": ROWS}
    assert json.loads(base64.b64decode(events[1]["bytes"])) == {"predictions": [0, 1]}
    assert kserve_frame(events, COLUMNS)[COLUMNS].values.tolist() == ROWS


def test_the_traffic_stands_a_minute_before_the_drift_runs_hour():
    logical, when = traffic_time(dt.datetime(2026, 1, 2, 10, 42, 7, tzinfo=dt.timezone.utc))
    assert logical == dt.datetime(2026, 1, 2, 10, 0, tzinfo=dt.timezone.utc)
    assert when == dt.datetime(2026, 1, 2, 9, 59, tzinfo=dt.timezone.utc)


def test_the_published_object_is_found_by_kind_and_name_and_links_are_not_followed(tmp_path):
    folder = tmp_path / "deployments" / "d" / "prod"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text("kind: Service\nmetadata: {name: x}\n---\nkind: InferenceService\n"
                                   "metadata: {name: x}\nspec: {predictor: {}}\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: InferenceService\nmetadata: {name: y}\n")
    (folder / "b.yaml").symlink_to(outside)
    repos = LocalRepos(tmp_path, "s.yaml")
    path, found = published_object(repos, "d/prod", "InferenceService", "x")
    assert path == "d/prod/a.yaml" and found["spec"] == {"predictor": {}}
    assert published_object(repos, "d/prod", "InferenceService", "y") is None
    assert published_object(repos, "d/none", "InferenceService", "x") is None


def test_the_bar_counts_the_tasks_of_the_new_run_only(tmp_path):
    with sqlite3.connect(tmp_path / "airflow.db") as db:
        db.execute("CREATE TABLE dag_run (id INTEGER, dag_id TEXT, run_id TEXT)")
        db.execute("CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT)")
        db.execute("INSERT INTO dag_run VALUES (1, 'd', 'old'), (2, 'd', 'new')")
        db.executemany("INSERT INTO task_instance VALUES ('d', ?, ?, ?)",
                       [("old", "a", "success"), ("new", "a", "success"), ("new", "b", "skipped"),
                        ("new", "c", "running"), ("new", "d", None)])
    home = AirflowHome(tmp_path, tmp_path / "dags")
    assert home._finished("d", after=1) == (2, 4)
    assert home._last_run_id("d") == 2 and home._last_run_id("other") == 0
    assert AirflowHome(tmp_path / "none", tmp_path)._finished("d", 0) == (0, 0)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_line_draws_on_a_terminal_only():
    from mlspec.cli.progress import ProgressLine

    terminal = Terminal()
    line = ProgressLine(terminal)
    line.update("dag", 1, 4)
    assert "dag [#####...............] 1/4 tasks" in terminal.getvalue()
    line.clear()
    assert terminal.getvalue().endswith("\r\x1b[2K")
    piped = io.StringIO()
    ProgressLine(piped).update("dag", 1, 4)
    assert piped.getvalue() == ""


def test_traffic_is_the_drift_reference_itself_and_drifted_traffic_moves_every_numeric_feature(tmp_path):
    from types import SimpleNamespace

    import pandas as pd

    from mlspec.local.traffic import DRIFT_SHIFT, feature_rows

    columns = [SimpleNamespace(name="a", type="float64", min=None, max=None),
               SimpleNamespace(name="n", type="int32", min=0, max=None)]
    view = SimpleNamespace(name="v", source=SimpleNamespace(name="src", columns=columns))
    model = SimpleNamespace(features=[SimpleNamespace(view="v", name="n"), SimpleNamespace(view="v", name="a")])
    system = SimpleNamespace(feature_views=[view])
    (tmp_path / "ds=2026-01-02").mkdir()
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "n": [1, 2, 3, 4], "other": list("wxyz")}).to_parquet(
        tmp_path / "ds=2026-01-02" / "part-0.parquet")
    names, rows = feature_rows(system, model, tmp_path)
    assert names == ["n", "a"] and rows == [[1, 1.0], [2, 2.0], [3, 3.0], [4, 4.0]]
    assert all(isinstance(n, int) for n, _ in rows)  # integers stay integers, as the signature says
    _, moved = feature_rows(system, model, tmp_path, shift=DRIFT_SHIFT)
    assert all(m[0] > r[0] and m[1] > r[1] for m, r in zip(moved, rows))


def test_the_tools_checked_before_a_run_are_exactly_the_local_extra():
    """What `mlspec run --local` checks for is what `pip install 'mlspec[local]'` installs: a
    tool the run needs but the extra lacks (evidently, once) fails a stage instead of the check."""
    import re
    import tomllib
    from pathlib import Path

    from mlspec.local.tools import MODULES

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    extra = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in pyproject["project"]["optional-dependencies"]
             ["local"]}
    assert set(MODULES.values()) == extra
