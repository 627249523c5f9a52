"""A clone is self-contained: the upstream schemas the tests and commands validate against are
vendored under vendor/ with their provenance, nothing reads a folder beside the clone, and the
script that refreshes them from upstream CRDs makes exactly the vendored files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, VENDOR
from support.crds import CRD_FILES, VENDORED_CRDS, schema_errors

SCRIPT = REPO / "scripts" / "refresh_crds.py"
FIXTURES = REPO / "tests" / "cases" / "crds"
ITER8 = "iter8-tools/etc3@108478b51dd50748a17428d548a5783c6fec02ad:config/crd/bases/{} (main (last commit 2021-11-05, untagged))"

# A path outside the repository, as code would spell it: `../shared`, `parent / "shared"`,
# `parents[2] / 'shared'`, or the SHARED constant the tests once had.
OUTSIDE = re.compile(r"""\.\./shared\b|parents?(\[\d+\])?\s*/\s*["']shared["']|\bSHARED\b(?!_)""")


def _code_files():
    for folder in ("src", "tests", "bench", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path
    yield REPO / ".ci" / "run"
    yield REPO / "Makefile"


def test_no_code_reads_a_folder_beside_the_clone():
    this = Path(__file__).resolve()
    offenders = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
                 for path in _code_files() if path.resolve() != this
                 for number, line in enumerate(path.read_text().splitlines(), 1) if OUTSIDE.search(line)]
    assert not offenders, "code reads a folder beside the clone; use vendor/ instead:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_is_for():
    assert OUTSIDE.search('SHARED = REPO.parent / "shared"')
    assert OUTSIDE.search("if [ ! -d ../shared/crds ]; then")
    assert OUTSIDE.search("REPO.parents[1] / 'shared' / 'crds'")
    assert not OUTSIDE.search("SHARED_BECAUSE = {")  # the overlay's table of shared sections


def test_every_schema_the_tests_use_is_vendored_with_its_provenance():
    provenance = (VENDOR / "README.md").read_text()
    files = sorted(VENDORED_CRDS.glob("*.json")) + sorted((VENDOR / "schemas").glob("*.json"))
    assert set(CRD_FILES.values()) <= {p.name for p in files}
    assert (VENDOR / "schemas" / "model_card.v0.0.2.schema.json") in files
    for path in files:
        schema = json.loads(path.read_text())
        assert "$schema" in schema, path.name
        # Listed in the provenance table, by name or by the brace pattern the table uses.
        stem = path.name.split("_")[0]
        assert path.name in provenance or re.search(re.escape(stem) + r"_\{[^}]*" + path.name.split("_")[1], provenance), \
            f"{path.name} has no row in vendor/README.md"
    assert provenance.count("Apache-2.0") >= 10


@pytest.mark.parametrize(("crd", "vendored"), [("iter8.tools_metrics.yaml", "iter8.tools_metric_v2alpha2.json"),
                                               ("iter8.tools_experiments.yaml", "iter8.tools_experiment_v2alpha2.json")])
def test_the_refresh_script_makes_the_vendored_file_from_the_upstream_crd(tmp_path, crd, vendored):
    result = subprocess.run([sys.executable, str(SCRIPT), str(FIXTURES / crd), "--out", str(tmp_path),
                             "--source", ITER8.format(crd)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / vendored).read_bytes() == (VENDORED_CRDS / vendored).read_bytes()
    check = subprocess.run([sys.executable, str(SCRIPT), str(FIXTURES / crd), "--out", str(VENDORED_CRDS), "--check",
                            "--source", ITER8.format(crd)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


def test_the_refreshed_schema_is_strict(tmp_path):
    """What the conversion is for: an unknown field, a wrong apiVersion and a bad name are
    errors; a well-formed Metric passes."""
    subprocess.run([sys.executable, str(SCRIPT), str(FIXTURES / "iter8.tools_metrics.yaml"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    metric = {"apiVersion": "iter8.tools/v2alpha2", "kind": "Metric", "metadata": {"name": "error-rate"},
              "spec": {"provider": "prometheus", "jqExpression": ".data", "urlTemplate": "http://prometheus/api"}}
    assert not schema_errors(tmp_path, metric)
    assert schema_errors(tmp_path, {**metric, "spec": {**metric["spec"], "urlTemplat": "x"}})
    assert schema_errors(tmp_path, {**metric, "metadata": {"name": "Error_Rate"}})
    with pytest.raises(KeyError):
        schema_errors(tmp_path, {**metric, "apiVersion": "iter8.tools/v2beta2"})


def test_a_file_that_is_no_crd_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "x.yaml"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no CustomResourceDefinition" in result.stderr


def test_openlineages_schemas_are_vendored_whole_with_their_provenance():
    """The run's events are validated against these (tests/support/openlineage_schema.py), each
    facet by the `$id` its `_schemaURL` names: every file is upstream's, at the commit listed."""
    provenance = (VENDOR / "README.md").read_text()
    assert "OpenLineage/OpenLineage @ 8f02abfb7a252783b95df79f443edb13959bf52c" in provenance
    folder = VENDOR / "schemas" / "openlineage"
    core = json.loads((folder / "OpenLineage.json").read_text())
    assert core["$id"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json" and "RunEvent" in core["$defs"]
    facets = sorted((folder / "facets").glob("*.json"))
    assert {"ParentRunFacet.json", "JobTypeJobFacet.json", "SchemaDatasetFacet.json"} <= {p.name for p in facets}
    for path in facets:
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        assert re.fullmatch(r"https://openlineage.io/spec/facets/\d+-\d+-\d+/" + re.escape(path.name), schema["$id"])
