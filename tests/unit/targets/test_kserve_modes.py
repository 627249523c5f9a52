"""KServe deployment modes: the names a Standard-mode canary's predictors get (names.py, shared by E411 and the target), and the series
each mode's canary analysis reads (one sample per revision, the mode's label)."""

from __future__ import annotations

import re

import pytest

from mlspec import names
from mlspec.targets import k8s

# KServe's CRD pattern for PredictorSpec.name (pkg/apis/serving/v1beta1/predictor.go).
PREDICTOR_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("version", ["1", "12", "2.0", "v3", "Release_7", "1-", "a.b.c", None])
def test_predictor_names_fit_kserve(version):
    name = names.predictor_name(version, "canary")
    assert PREDICTOR_NAME.match(name), name


@pytest.mark.parametrize("mode", ["knative", "standard"])
def test_every_default_query_keeps_the_modes_revision_label(mode):
    label = names.REVISION_LABELS[mode]
    for query in (k8s.DEFAULT_ERROR_RATE_QUERY[mode], k8s.DEFAULT_LATENCY_QUERY[mode]):
        assert f"by ({label}" in query and "{{selector}}" in query and "{{window}}" in query
    other = names.REVISION_LABELS["standard" if mode == "knative" else "knative"]
    assert other not in k8s.DEFAULT_ERROR_RATE_QUERY[mode] + k8s.DEFAULT_LATENCY_QUERY[mode]
