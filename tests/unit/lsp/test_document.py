"""The language server's plain modules, without a client: diagnostics are validate's, quick
fixes fix, the reference index finds exactly the names, renames keep every other byte, the
cursor's context is read from text that does not parse, completion offers what the place takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO
from mlspec.compiler.run import validate_files
from mlspec.diagnostics import DiagnosticSink, Severity
from mlspec.lsp.complete import complete
from mlspec.lsp.context import CursorContext, context_at
from mlspec.lsp.document import Analysis
from mlspec.lsp.rename import RenameRefused, rename_edits
from mlspec.lsp.symbols import RENAMEABLE
from mlspec.lsp.text import apply_edits, text_in
from mlspec.spec import fields

CORPUS = REPO / "tests" / "cases" / "invalid"
CHURN = REPO / "specs" / "customer-churn.yaml"


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if (p / "spec.yaml").is_file())


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_diagnostics_are_the_list_validate_prints(case):
    spec = case / "spec.yaml"
    try:
        text = spec.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: an editor's buffer is text")
    [unit] = validate_files([spec])
    assert Analysis.of(spec, text).diagnostics == DiagnosticSink(list(unit.diagnostics)).sorted()


def _errors(analysis) -> int:
    return sum(d.severity is Severity.ERROR for d in analysis.diagnostics)


def test_every_did_you_mean_of_the_corpus_is_a_quick_fix_that_fixes_it():
    fixed = 0
    for case in _cases():
        spec = case / "spec.yaml"
        analysis = Analysis.of(spec, _text(spec))
        for diagnostic in analysis.diagnostics:
            for fix in analysis.quick_fixes(diagnostic):
                after = Analysis.of(spec, apply_edits(analysis.text, [fix.edit]))
                assert (diagnostic.code, diagnostic.message) not in {(d.code, d.message) for d in after.diagnostics}, \
                    f"{case.name}: {fix.title} does not fix {diagnostic.code}"
                # no more errors than before: a fix may bring out what the error hid (W604 once `replica` is
                # `replicas`; E403 once `classification` is `multiclass_classification` with a binary fairness metric)
                assert _errors(after) <= _errors(analysis), f"{case.name}: {fix.title}"
                fixed += 1
    assert fixed >= 20


def test_a_quick_fix_changes_only_the_misspelled_part():
    text = _text(CORPUS / "overlay-misspelled-model" / "spec.yaml")
    analysis = Analysis.of(Path("spec.yaml"), text)
    [diagnostic] = analysis.diagnostics
    [fix] = analysis.quick_fixes(diagnostic)
    assert fix.title == "Replace `chrun` with `churn`"
    assert "models.churn.serving.replicas.max: 1" in apply_edits(text, [fix.edit])
    # a help without "did you mean" offers nothing
    plain = Analysis.of(Path("spec.yaml"), text.replace("models.chrun.serving", "datasets.customers.retries"))
    assert all(not plain.quick_fixes(d) for d in plain.diagnostics)


def test_every_occurrence_is_the_name_it_stands_for():
    analysis = Analysis.of(CHURN, CHURN.read_text(encoding="utf-8"))
    occurrences = analysis.index.occurrences
    assert {o.symbol[0] for o in occurrences} == {"dataset", "column", "entity", "view", "feature", "slo", "model"}
    for occurrence in occurrences:
        assert text_in(analysis.lines, occurrence.range) == occurrence.symbol[-1]
    # every reference has its definition
    for occurrence in occurrences:
        if not occurrence.definition:
            assert analysis.index.definitions(occurrence.symbol), occurrence


@pytest.mark.parametrize("spec", ["customer-churn.yaml", "payments-risk.yaml", "minimal.yaml"])
def test_renaming_anything_renameable_keeps_the_spec_valid_and_every_other_line(spec):
    path = REPO / "specs" / spec
    text = path.read_text(encoding="utf-8")
    analysis = Analysis.of(path, text)
    definitions = {o.symbol: o for o in analysis.index.occurrences if o.definition and o.symbol[0] in RENAMEABLE}
    assert definitions or spec == "minimal.yaml"
    renamed_ok = 0
    for symbol, occurrence in definitions.items():
        new = "renamed-x" if symbol[0] == "slo" else "renamed_x"
        try:
            edits = rename_edits(analysis, occurrence.range.line, occurrence.range.col, new)
        except RenameRefused as refused:
            # e.g. a join-key column the label dataset must hold too (E415): refused, never half-done
            assert re.search(r"\b[EW]\d{3}\b", str(refused)), (symbol, str(refused))
            continue
        renamed = apply_edits(text, edits)
        after = Analysis.of(path, renamed)
        # what the spec said before (payments-risk's W411 on its legacy Iter8 rollout), and nothing new
        assert [d.code for d in after.diagnostics] == [d.code for d in analysis.diagnostics], (symbol, after.diagnostics)
        renamed_ok += 1
        changed = {e.range.line for e in edits}
        assert [line for number, line in enumerate(analysis.lines) if number not in changed] == \
            [line for number, line in enumerate(after.lines) if number not in changed]
    assert renamed_ok >= len(definitions) * 3 // 4, (renamed_ok, len(definitions))


def test_a_rename_the_spec_would_refuse_is_refused():
    analysis = Analysis.of(CHURN, CHURN.read_text(encoding="utf-8"))
    slo = analysis.index.definitions(("slo", "churn-api"))[0].range
    with pytest.raises(RenameRefused, match="E107"):
        rename_edits(analysis, slo.line, slo.col, "Churn_API")
    dataset = analysis.index.definitions(("dataset", "customers"))[0].range
    with pytest.raises(RenameRefused, match="already exists"):
        rename_edits(analysis, dataset.line, dataset.col, "customer_activity")
    with pytest.raises(RenameRefused, match="cannot be a name"):
        rename_edits(analysis, dataset.line, dataset.col, "a: b")


DOCUMENT = """apiVersion: mlspec/v1alpha1
datasets:
  customers:
    source: {sql: "SELECT 1", connection: wa|}
    colu|
    columns:
      id: {type: in|}
    expectations:
      - expect: foo|
        col|
      - {expect: x, column: i|}
featureViews:
  v:
    entities: [cus|]
models:
  churn:
    features:
      - customer_features.|
    evaluation:
      gates:
        acc|
    rollout:
      slo: |
pla|"""


def _cursors(document: str) -> list[tuple[list[str], int, int]]:
    lines = document.split("\n")
    found = []
    for number, line in enumerate(lines):
        if "|" in line:
            found.append((number, line.index("|")))
    clean = [line.replace("|", "") for line in lines]
    return [(clean, number, col) for number, col in found]


def test_the_cursors_context_is_read_from_text_that_does_not_parse():
    contexts = [context_at(lines, number, col) for lines, number, col in _cursors(DOCUMENT)]
    assert [(c.path, c.kind, c.prefix) for c in contexts] == [
        (("datasets", "customers", "source", "connection"), "value", "wa"),
        (("datasets", "customers"), "key", "colu"),
        (("datasets", "customers", "columns", "id", "type"), "value", "in"),
        (("datasets", "customers", "expectations", 0, "expect"), "value", "foo"),
        (("datasets", "customers", "expectations", 0), "key", "col"),
        (("datasets", "customers", "expectations", 0, "column"), "value", "i"),
        (("featureViews", "v", "entities"), "item", "cus"),
        (("models", "churn", "features"), "item", "customer_features."),
        (("models", "churn", "evaluation", "gates"), "key", "acc"),
        (("models", "churn", "rollout", "slo"), "value", ""),
        ((), "key", "pla"),
    ]


def test_reading_the_context_is_linear_on_hostile_lines():
    import time

    for line in ("a" + " " * 1_000_000, "a " * 500_000, "k: " + "a" * 1_000_000 + " ", "- " * 200_000):
        lines = ["datasets:", line, line, "  x"]
        started = time.perf_counter()
        context_at(lines, 3, 3)
        context_at(lines, 1, len(line))
        context_at(lines, 1, 2000)
        assert time.perf_counter() - started < 2, line[:10]


def test_completion_offers_what_the_place_takes():
    data = Analysis.of(CHURN, CHURN.read_text(encoding="utf-8")).unit.source.data

    def labels(path, kind):
        return [item.label for item in complete(CursorContext(path, kind, "", 0), data)]

    assert labels(("models", "churn", "rollout", "slo"), "value") == ["churn-api"]
    assert labels(("featureViews", "customer_features", "entities"), "item") == ["customer"]
    assert "customers.churn" in labels(("models", "churn", "label"), "value")
    assert labels(("featureViews", "customer_features", "timestampField"), "value") == ["event_timestamp"]
    assert labels(("models", "churn", "serving", "format"), "value")[:2] == ["mlflow", "sklearn"]
    assert labels(("featureViews", "customer_features", "online"), "value") == ["true", "false"]
    gates = labels(("models", "churn", "evaluation", "gates"), "key")
    assert "f1" in gates and "accuracy" not in gates and "rmse" not in gates  # classification, not written yet
    expect = labels(("datasets", "customers", "expectations"), "item")
    assert "column" in expect and "mostly" in expect  # keys of an expectation
    top = labels((), "key")
    assert "apiVersion" not in top  # written already


def test_field_documentation_is_the_json_schemas():
    schema = json.loads((REPO / "schema" / "mlspec.schema.json").read_text(encoding="utf-8"))
    checked = 0
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            if name == "Rollout":
                doc = fields.field_doc(("models", "m", "rollout", key))
                assert doc is not None and doc.description == prop["description"]
                checked += 1
    assert checked == len(schema["$defs"]["Rollout"]["properties"]) >= 4  # every field of Rollout
    assert fields.field_doc(("datasets", "d", "source", "sql")).description == \
        schema["$defs"]["SqlSource"]["properties"]["sql"]["description"]


def test_a_ranking_models_gates_complete_with_ranking_metrics():
    recommender = CHURN.parents[1] / "tests/cases/spec/recommender.yaml"
    data = Analysis.of(recommender, recommender.read_text(encoding="utf-8")).unit.source.data
    gates = [item.label for item in complete(CursorContext(("models", "home-ranker", "evaluation", "gates"), "key",
                                                           "", 0), data)]
    assert gates == ["map@10"]  # ndcg@10 and mrr are written already; no classification metric
