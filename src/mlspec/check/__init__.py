"""check: rules pydantic cannot express, run as named passes over a validated spec."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.check.references import (
    check_dataset_expectations,
    check_feature_views,
    check_model_references,
)
from mlspec.check.consistency import (
    check_derived_names,
    check_model_settings,
    check_platform_requirements,
    check_promotion,
    check_slo_queries,
)
from mlspec.check.serving_data import check_prediction_log_sink, check_served_features
from mlspec.diagnostics import Diagnostic
from mlspec.source.loader import LoadedSource
from mlspec.spec.models import MLSystemSpec

# Read top to bottom, this is the table of contents of what `mlspec validate` checks.
PASSES = (
    check_dataset_expectations,
    check_feature_views,
    check_model_references,
    check_model_settings,
    check_slo_queries,
    check_derived_names,
    check_platform_requirements,
    check_promotion,
    check_served_features,
    check_prediction_log_sink,
)


def check_spec(spec: MLSystemSpec, source: LoadedSource, dropped: frozenset[tuple] = frozenset()) -> list[Diagnostic]:
    """Every pass over `spec`; `dropped` names entries validation left out (see CheckContext)."""
    context = CheckContext(spec, source, dropped)
    for check in PASSES:
        check(context)
    return context.diagnostics
