"""`mlspec graph` draws the lineage (the same graph manifest.json stores) and
`mlspec impact` answers "if this table changes, which models are affected?"."""

from __future__ import annotations

import json
import re

import pydot
import pytest

from conftest import REPO, invoke_mlspec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's pyparsing calls


def _manifest_graph(system: str) -> dict:
    return json.loads((REPO / f"generated/{system}/manifest.json").read_text())["lineage"]


def test_json_is_the_lineage_graph_of_the_manifest():
    result = invoke_mlspec("graph", "specs/customer-churn.yaml", "specs/payments-risk.yaml", "--format", "json")

    assert result.returncode == 0, result.stderr
    systems = {s["system"]: s for s in json.loads(result.stdout)["systems"]}
    for name in ("customer-churn", "payments-risk"):
        graph = _manifest_graph(name)
        assert systems[name]["nodes"] == graph["nodes"] and systems[name]["edges"] == graph["edges"]


def test_mermaid_declares_every_node_once_and_draws_every_edge():
    result = invoke_mlspec("graph", "specs/customer-churn.yaml")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    declared = {}
    for line in lines:
        match = re.match(r'^\s+(s\d+n\d+)(\[\(|\[\[|\(\[|\{\{|>)"(.*?)"(\)\]|\]\]|\]\)|\}\}|\])?:::(\w+)$', line)
        if match:
            assert match.group(1) not in declared
            declared[match.group(1)] = (match.group(3), match.group(5))
    edges = {tuple(line.split(" --> ")) for line in (l.strip() for l in lines) if " --> " in line}
    graph = _manifest_graph("customer-churn")
    assert sorted(declared.values()) == sorted((n["name"], n["kind"]) for n in graph["nodes"])
    by_id = {n["id"]: (n["name"], n["kind"]) for n in graph["nodes"]}
    ident = {value: key for key, value in declared.items()}
    assert edges == {(ident[by_id[e["from"]]], ident[by_id[e["to"]]]) for e in graph["edges"]}
    assert ("churn", "model") in declared.values() and ("customers", "dataset") in declared.values()


def test_dot_is_valid_graphviz_with_every_edge():
    result = invoke_mlspec("graph", "specs/payments-risk.yaml", "--format", "dot")

    assert result.returncode == 0, result.stderr
    parsed = pydot.graph_from_dot_data(result.stdout)
    assert parsed, "pydot could not parse the DOT output"
    assert len(parsed[0].get_edges()) == len(_manifest_graph("payments-risk")["edges"])


def test_impact_of_a_table_lists_the_models_deployments_and_dags_downstream():
    result = invoke_mlspec("impact", "dataset:customers", "--format", "json")

    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)
    assert found["system"] == "customer-churn"
    assert found["affected"] == {
        "models": ["churn"],
        "deployments": ["customer-churn-churn (dev)", "customer-churn-churn (prod)"],
        "DAGs": ["customer_churn__drift_churn", "customer_churn__train_churn"],
        "pipelines": ["customer-churn-churn-training"],
    }


def test_impact_of_a_joined_table_reaches_the_models_of_the_dataset_its_query_builds():
    """`prices` is read only by a JOIN (after a CTE) of the store_weeks source."""
    result = invoke_mlspec("impact", "table:prices", "tests/cases/sql/demand.yaml", "--format", "json")

    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)
    assert found["affected"] == {
        "datasets": ["store_weeks"], "feature views": ["store_demand"], "models": ["stockout"],
        "DAGs": ["demand__feast", "demand__ingest_store_weeks", "demand__train_stockout"],
        "pipelines": ["demand-stockout-training"],
    }
    # a table read in a WHERE subquery, named as the query writes it or by its URI
    for ref in ("table:shop.stores", "table:mysql://shop-db.internal:3307/shop.stores"):
        result = invoke_mlspec("impact", ref, "tests/cases/sql/demand.yaml", "--format", "json")
        assert json.loads(result.stdout)[0]["affected"]["datasets"] == ["promotions"], ref


def test_an_unknown_table_names_the_tables_the_queries_read():
    result = invoke_mlspec("impact", "table:price", "tests/cases/sql/demand.yaml")

    assert result.returncode != 0
    assert "no source or table `price`" in result.stderr and "analytics.pricing.prices" in result.stderr


def test_the_feast_dag_is_in_the_graph_and_downstream_of_its_views_sources():
    graph = _manifest_graph("customer-churn")
    assert {"from": "featureView:customer_features", "to": "dag:customer_churn__feast"} in graph["edges"]
    result = invoke_mlspec("graph", "specs/customer-churn.yaml")
    assert '>"customer_churn__feast"]:::dag' in result.stdout
    result = invoke_mlspec("impact", "dataset:customer_activity", "--format", "json")
    assert "customer_churn__feast" in json.loads(result.stdout)[0]["affected"]["DAGs"]
    # a dataset no feature view reads does not reach it
    result = invoke_mlspec("impact", "dataset:customers", "--format", "json")
    assert "customer_churn__feast" not in json.loads(result.stdout)[0]["affected"]["DAGs"]


def test_impact_of_a_feature_is_only_the_models_that_read_it():
    view = json.loads(invoke_mlspec("impact", "feature:card_activity", "--format", "json").stdout)[0]
    one = json.loads(invoke_mlspec("impact", "feature:card_activity.distinct_merchants_7d", "--format",
                                   "json").stdout)[0]

    assert view["affected"]["models"] == ["chargeback-loss", "fraud-score"]
    # chargeback-loss reads only txn_amount_24h of card_activity
    assert one["affected"]["models"] == ["fraud-score"]
    assert all("chargeback" not in d for d in one["affected"]["deployments"])


def test_impact_of_a_model_and_text_output():
    result = invoke_mlspec("impact", "model:fraud-score", "specs/payments-risk.yaml")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "model:fraud-score in payments-risk (specs/payments-risk.yaml): 6 downstream"
    assert "    payments-risk-fraud-score (staging)" in result.stdout
    assert "chargeback-loss" not in result.stdout


def test_impact_of_an_unknown_node_suggests_the_closest_name():
    result = invoke_mlspec("impact", "dataset:customer")

    assert result.returncode == 2
    assert "did you mean `customers`" in result.stderr and "Traceback" not in result.stderr
