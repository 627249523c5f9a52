"""Rules between the base spec and an environment's overlaid spec (E418): what one artifact
shared by every environment decides may not differ in one of them."""

from __future__ import annotations

from mlspec.diagnostics import Diagnostic
from mlspec.source.loader import LoadedSource
from mlspec.names import serving_flavor
from mlspec.spec.models import MLSystemSpec


def check_environment_flavors(base: MLSystemSpec, env_name: str, env_spec: MLSystemSpec, source: LoadedSource,
                              written_at: dict[tuple, tuple]) -> list[Diagnostic]:
    """One training pipeline serves every environment, so it logs each model in one MLflow
    flavor, the one the base's serving format needs: an environment may not serve the model in
    a format that needs another. `written_at`: where each overridden value's override is
    written (source.overlay.Overlaid.written_at)."""
    found = []
    for name, model in env_spec.models.items():
        base_model = base.models.get(name)
        if base_model is None:
            continue
        wanted = serving_flavor(base_model.serving.format if base_model.serving else None)
        served = model.serving.format if model.serving else None
        if serving_flavor(served) == wanted:
            continue
        path = ("models", name, "serving", "format")
        at = written_at.get(path, ("environments", env_name, "overrides"))
        _, span = source.positions.nearest(at, prefer_key=True)
        found.append(Diagnostic(
            # The front end adds "(in environment `<name>`)".
            "E418", f"model `{name}` is served as `{served}`, which needs the model logged in another MLflow flavor"
                    f" than the one training pipeline of all environments logs (for"
                    f" `{base_model.serving.format if base_model.serving else 'mlflow'}`)",
            source.path, span, at, help="serve the model in one format in every environment, or in formats of one"
                                        " flavor (`mlflow` and `custom`)"))
    return found
