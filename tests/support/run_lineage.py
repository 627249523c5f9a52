"""What a local run's OpenLineage events must show (issue 22, "lineage from the run itself"):
the report says where they are; every event is valid against OpenLineage's published schemas;
they form one graph from each source table to the registered model version and its
deployment; and `mlspec impact --events` answers as the spec does."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from conftest import invoke_mlspec
from support.openlineage_schema import event_errors

AIRFLOW_PROVIDER = "https://github.com/apache/airflow/tree/providers-openlineage/"
RUN_LOCAL = "https://mlspec.dev/run-local"


def reachable(children: dict, starts: list[str]) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        for child in children.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen


def check_run_lineage(report: Path, spec: Path, work: Path) -> None:
    from mlspec.ir.layout import monitored_environment
    from mlspec.review.graph import load_graphs
    from mlspec.review.run_events import event_graph, read_events, spec_names
    from mlspec.targets.lineage_names import job_namespace

    lineage = json.loads(report.read_text())["lineage"]
    path = Path(lineage["events"])
    assert path == work.resolve() / "lineage" / "events.jsonl" and path.is_file(), lineage
    events = read_events(path)
    assert sum(lineage["producers"].values()) == len(events)
    assert any(e["producer"].startswith(AIRFLOW_PROVIDER) for e in events)  # Airflow's provider wrote some
    invalid = {f"{e['job']['name']} {e['eventType']}": event_errors(e)[:3] for e in events if event_errors(e)}
    assert invalid == {}

    [graph], _ = load_graphs([spec])
    system, project = graph.project.base, graph.project
    assert {e["job"]["namespace"] for e in events} == {job_namespace(system)}
    children, nodes = event_graph(events)
    named, versions = spec_names(graph, events)
    env = monitored_environment(project)
    if not system.models:
        return
    assert {e["producer"] for e in events} >= {RUN_LOCAL}  # the pipeline steps, the deployment
    # One graph: from every table (file) each model's training reads, to a version of the
    # model registered by the run and, when served, to its InferenceService.
    spec_edges = {(e["from"], e["to"]) for e in graph.graph["edges"]}
    for source in (n["id"] for n in graph.graph["nodes"] if n["kind"] == "source"):
        starts = [key for key, node in named.items() if node == source and key in nodes]
        assert starts, f"{source} is read by no event"
        downstream = reachable(children, starts)
        for model in system.models:
            if not _reaches(spec_edges, source, f"model:{model.name}"):
                continue
            assert any(versions.get(k, "").startswith(f"{model.registry_name} version ") for k in downstream), \
                f"no version of {model.registry_name} downstream of {source} in {path}"
            if model.serving and env is not None:
                assert f"dataset|{job_namespace(system)}|kserve.{env.name}.{model.name}" in downstream, source
        # The same answer as the spec's, but for the environments the run deployed to (its
        # last), and for the feature views: the Feast DAG's apply and materialize tasks read
        # every view's source and write every view (lineage_names.feast_tasks), so in task-level
        # events each view is downstream of every view's source; the spec's graph knows better.
        table = f"table:{source.split(':', 1)[1]}"
        from_spec = _impact(table, spec)
        from_events = _impact(table, spec, "--events", str(path))
        if "deployments" in from_spec:
            from_spec["deployments"] = [d for d in from_spec["deployments"] if env and d.endswith(f"({env.name})")]
        views = set(from_events.pop("feature views", []))
        assert set(from_spec.pop("feature views", [])) <= views <= {v.name for v in system.feature_views}, table
        assert from_events == {k: v for k, v in from_spec.items() if v}, table
        assert from_events["models"], f"{table}: no model affected"


def _reaches(edges: set, start: str, goal: str) -> bool:
    children: dict[str, list[str]] = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
    return goal in reachable(children, [start])


def _impact(ref: str, spec: Path, *args: str) -> dict:
    result = invoke_mlspec("impact", ref, str(spec), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)
    return found["affected"]
