"""Feast feature repository: `feature_store.yaml` and a definitions module.

Written in Feast 0.67's current forms: entities with a `value_type`, `FileSource` with
`timestamp_field`, feature views with `schema=[Field(...)]` and a `ttl`, and one
`FeatureService` per model (what the training pipeline asks Feast for). The store config
comes from `platform.feast` (local provider, sqlite online store and file offline store by
default); an environment that overrides it gets its own `feature_store.<env>.yaml`, used
with `feast -f feature_store.<env>.yaml apply`.

A file source is its dataset's storage root, which holds one Hive-style partition per
ingestion run (see ir.layout, "dataset partitions"): Feast's file offline store reads them all.
The Airflow Feast DAG applies this repository and materializes it (see the airflow target).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.ir.coltypes import COLUMN_TYPES
from mlspec.ir.model import IRDataset, IRFeatureView, IRFileSource, IRModel, IRProject, IRSystem
from mlspec.ir import layout
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.targets.feast_store import feature_store_config
from mlspec.ir.layout import feature_service_name
from mlspec.targets.templating import render_template

# Environment variable that points every file source at a local folder (`<dir>/<dataset>.parquet`),
# for development and tests; unset, the sources read the spec's storage URIs.
DATA_DIR_ENV = "MLSPEC_FEAST_DATA_DIR"


def feature_refs(model: IRModel) -> list[str]:
    """The `view:feature` references the training pipeline requests, in spec order."""
    return [f.reference for f in model.features]


@dataclass(frozen=True)
class _Source:
    var: str
    name: str
    dataset: IRDataset
    uri: str
    timestamp_field: str


class FeastTarget(Target):
    name = "feast"
    description = "Feast feature repository (feature_store.yaml and feature definitions)"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        if not system.feature_views:
            return []
        artifacts = [self.artifact("feast/feature_store.yaml", dump_yaml(feature_store_config(system)))]
        for env in project.environments:
            if env.system.platform.feast != system.platform.feast:
                artifacts.append(self.artifact(f"feast/feature_store.{env.name}.yaml",
                                               dump_yaml(feature_store_config(env.system)),
                                               environment=env.name))
        definitions = self.definitions(system)
        if definitions is not None:
            artifacts.append(self.artifact("feast/features.py", definitions))
        return artifacts

    def definitions(self, system: IRSystem) -> str | None:
        sources: dict[tuple[str, str], _Source] = {}
        used_names = {(v.source.name, v.timestamp_field) for v in system.feature_views}
        for view in system.feature_views:
            key = (view.source.name, view.timestamp_field)
            if key in sources:
                continue
            # A Parquet file to read: check/training_data.py (E416).
            uri = view.source.storage or _file_uri(view.source)
            # One source per dataset, unless two views read it by different timestamp fields.
            shared = sum(1 for k in used_names if k[0] == view.source.name) > 1
            name = f"{view.source.name}__{view.timestamp_field}" if shared else view.source.name
            sources[key] = _Source(f"source_{name}", name, view.source, uri, view.timestamp_field)
        if len(sources) != len(used_names):
            return None
        endpoint = system.platform.object_store.endpoint if system.platform.object_store else None
        views = [_view_context(v, sources[(v.source.name, v.timestamp_field)]) for v in system.feature_views]
        services = []
        for model in system.models:
            by_view = {}
            for feature in model.features:
                by_view.setdefault(feature.view, []).append(feature.name)
            services.append({
                "var": f"service_{model.py_name}", "name": feature_service_name(model),
                "description": model.description or f"Features of model {model.name}",
                "projections": [{"view_var": f"view_{v}", "features": names, "all": len(names) == len(
                    next(fv for fv in system.feature_views if fv.name == v).features)}
                    for v, names in by_view.items()],
            })
        return render_template(
            "feast/features.py.j2",
            system=system, data_dir_env=DATA_DIR_ENV, endpoint_env=layout.FEAST_S3_ENDPOINT_ENV,
            dtypes=sorted({COLUMN_TYPES[f.type].feast_dtype for v in system.feature_views for f in v.features}),
            entities=[{"var": f"entity_{e.name}", "name": e.name, "join_keys": list(e.join_keys),
                       "value_type": COLUMN_TYPES[e.value_type].feast_value_type, "description": e.description or ""}
                      for e in system.entities],
            sources=[{"var": s.var, "name": s.name, "dataset": s.dataset.name, "uri": s.uri,
                      "timestamp_field": s.timestamp_field,
                      "endpoint": endpoint if s.uri.startswith("s3://") else None}
                     for s in sources.values()],
            views=views, services=services)


def _file_uri(dataset: IRDataset) -> str | None:
    source = dataset.source
    if isinstance(source, IRFileSource) and source.format == "parquet" and source.uri.endswith(".parquet"):
        return source.uri
    return None


def _view_context(view: IRFeatureView, source: _Source) -> dict:
    return {
        "var": f"view_{view.name}", "name": view.name, "entities": [f"entity_{e.name}" for e in view.entities],
        "ttl_seconds": view.ttl_seconds, "ttl": view.ttl, "online": view.online, "source_var": source.var,
        "description": view.description or "",
        "fields": [{"name": f.name, "dtype": COLUMN_TYPES[f.type].feast_dtype,
                    "description": getattr(view.source.column(f.name), "description", None) or ""}
                   for f in view.features],
    }
