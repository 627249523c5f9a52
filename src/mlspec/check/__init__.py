"""check: rules pydantic cannot express, run as named passes over a validated spec."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.check.images import check_operator_image
from mlspec.check.references import (
    check_dataset_expectations,
    check_feature_views,
    check_left_out_model_references,
    check_model_references,
)
from mlspec.check.consistency import (
    check_derived_names,
    check_model_settings,
    check_platform_requirements,
    check_canary_mode,
    check_promotion,
    check_slo_queries,
    check_task_metrics,
)
from mlspec.check.serving_data import (
    check_drift_has_predictions,
    check_feature_views_read,
    check_monitoring_store,
    check_prediction_log_sink,
    check_served_features,
)
from mlspec.check.training_data import check_feature_sources, check_label_dataset, check_training_schedules
from mlspec.check.sql_sources import check_sql_sources
from mlspec.diagnostics import Diagnostic
from mlspec.source.loader import LoadedSource
from mlspec.spec.models import MLSystemSpec

# Read top to bottom, this is the table of contents of what `mlspec validate` checks.
PASSES = (
    check_dataset_expectations,
    check_sql_sources,
    check_feature_views,
    check_model_references,
    check_left_out_model_references,
    check_task_metrics,
    check_model_settings,
    check_slo_queries,
    check_canary_mode,
    check_derived_names,
    check_platform_requirements,
    check_promotion,
    check_served_features,
    check_prediction_log_sink,
    check_monitoring_store,
    check_operator_image,
    check_label_dataset,
    check_feature_sources,
    check_training_schedules,
    check_drift_has_predictions,
    check_feature_views_read,
)


def check_spec(spec: MLSystemSpec, source: LoadedSource, dropped: frozenset[tuple] = frozenset()) -> list[Diagnostic]:
    """Every pass over `spec`; `dropped` names entries validation left out (see CheckContext)."""
    context = CheckContext(spec, source, dropped)
    for check in PASSES:
        check(context)
    return context.diagnostics
