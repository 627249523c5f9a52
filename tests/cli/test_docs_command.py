"""`mlspec docs`: the committed spec reference (docs/spec-reference.md) is fresh, a stale one
fails with the diff and the command that rewrites it, and it covers what a new user looks for:
every key of the JSON Schema, the gate metrics per task, the SLO placeholders, the SQL template
variables."""

from __future__ import annotations

import json

from conftest import REPO, invoke_mlspec

REFERENCE = REPO / "docs" / "spec-reference.md"


def test_committed_reference_is_fresh():
    result = invoke_mlspec("docs", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_check_fails_with_diff_and_command_when_stale(tmp_path):
    stale = tmp_path / "reference.md"
    stale.write_text(REFERENCE.read_text().replace("Model format KServe serves.", "old text"))
    result = invoke_mlspec("docs", "--check", "--out", str(stale))
    assert result.returncode == 1
    assert "-- **`format`**" in result.stdout or "old text" in result.stdout
    assert f"run `mlspec docs --out {stale}`" in result.stderr
    assert invoke_mlspec("docs", "--out", str(stale)).returncode == 0
    assert stale.read_text() == REFERENCE.read_text()


def test_every_key_of_the_schema_is_in_the_reference_with_its_description():
    """One source: each property the JSON Schema publishes is listed, with the description an
    editor shows on hover."""
    schema = json.loads((REPO / "schema" / "mlspec.schema.json").read_text())
    text = " ".join(REFERENCE.read_text().split())
    for definition in [schema, *schema["$defs"].values()]:
        for key, prop in definition.get("properties", {}).items():
            line = f"- **`{key}`** ("
            assert line in text, key
            assert " ".join(prop["description"].split()) in text, (key, prop["description"])


def test_the_rules_a_new_user_looks_for_are_there():
    text = REFERENCE.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `multiclass_classification` |"))
    assert row.endswith("| `accuracy` |"), row  # the one fairness metric of a multiclass model
    assert "| `regression` | `rmse`, `mae`, `r2`, `mape` |" in text
    assert 'namespace_name="<namespace>", configuration_name="<system>-<model>-predictor"' in text  # {{selector}}
    assert "`{{ ds }}`" in text and "`0 6 L * *`" in text
    assert "online: true" in text and "E409" in text  # served models read online views only
    assert "needs both\n  `user_id` and `item_id`" in text  # how multi-entity views join to the label
    assert "default `mlflow`; one of `mlflow`, `sklearn`" in text  # type, default and allowed values


def test_the_gate_metrics_listed_per_task_are_the_ones_validate_accepts():
    """Each task's row names metrics `mlspec validate` accepts as its gates (a ranking model's are
    NDCG, MAP and MRR, not the classifiers' metrics the table listed once), with `@k` as `@10`."""
    from mlspec.spec.models import TASKS, metric_task

    family = {"binary_classification": "classification", "multiclass_classification": "classification",
              "regression": "regression", "ranking": "ranking"}
    text = REFERENCE.read_text()
    for task in TASKS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{task}` |"))
        metrics = [m.strip("` ").replace("@k", "@10") for m in row.split("|")[2].split(",")]
        assert metrics and all(metric_task(m) == family[task] for m in metrics), (task, metrics)
    assert "| `ranking` | `ndcg`, `ndcg@k`, `map`, `map@k`, `mrr`, `mrr@k` |" in text
