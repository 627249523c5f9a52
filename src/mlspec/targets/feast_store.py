"""The Feast store of a system as the spec configures it: what `feature_store.yaml` says (the
feast target writes it) and what the training pipeline builds its `RepoConfig` from (the kfp
target passes it as a pipeline parameter), decided once here so the two cannot differ."""

from __future__ import annotations

from mlspec.ir.model import IRSystem


def feast_project(system: IRSystem) -> str:
    """Feast project names are letters, digits and underscores."""
    return system.py_name


def feature_store_config(system: IRSystem) -> dict:
    feast = system.platform.feast
    return {
        "project": feast_project(system),
        "provider": feast.provider,
        "registry": feast.registry,
        "online_store": dict(feast.online_store),
        "offline_store": dict(feast.offline_store),
        "entity_key_serialization_version": 3,
    }


def registry_is_remote(system: IRSystem) -> bool:
    """Whether the registry is a URI (s3://, gs://, a database...) rather than a path inside
    the feature repo, which a training step in a cluster does not have."""
    return "://" in system.platform.feast.registry
