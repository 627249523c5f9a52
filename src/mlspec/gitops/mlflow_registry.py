"""The two MLflow model-registry questions mlspec asks, over MLflow's REST API.

mlspec's runtime install stays light: the whole `mlflow` package (hundreds of MB with its
dependencies) is not needed to ask "which version does alias X point at?" and "where is
version N stored?". These are the same REST calls MlflowClient makes (OSS tracking server,
`mlflow/store/model_registry/rest_store.py`):

    GET {tracking}/api/2.0/mlflow/registered-models/alias?name=...&alias=...
    GET {tracking}/api/2.0/mlflow/model-versions/get-download-uri?name=...&version=...

What MLflow answers is checked before it is used: a version is a positive integer, a
storage location passes the spec's own `serving.storageUri` rule (one line, no spaces or
control characters), since both go into the spec, the manifests and a commit message.

Authentication as MLflow's client does it: MLFLOW_TRACKING_TOKEN (bearer) or
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic). Failures are ExternalErrors.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

from mlspec.errors import ExternalError
from mlspec.textsafe import printable

TIMEOUT_SECONDS = 30


class RegistryError(ExternalError):
    """MLflow answered with an error, or could not be reached."""


def check_version(version: object, source: str) -> str:
    """`version` as text when it is a registered model version as MLflow numbers them (a
    positive integer, as text or a number), else a RegistryError: it goes into a spec, a
    manifest and a commit message."""
    text = str(version) if isinstance(version, (str, int)) and not isinstance(version, bool) else ""
    if not re.fullmatch(r"[1-9][0-9]{0,17}", text):
        raise RegistryError(f"{source} gave `{printable(str(version))[:100]}` as a model version, which is not a"
                            " positive integer; nothing was changed")
    return text


def check_storage(uri: object, source: str) -> str:
    """`uri` when the spec would take it as `serving.storageUri` (the rule of the spec's own
    validation, spec.types.check_storage_uri), else a RegistryError."""
    from pydantic_core import PydanticCustomError

    from mlspec.spec.types import check_storage_uri

    if not isinstance(uri, str) or not uri:
        raise RegistryError(f"{source} gave no storage location")
    try:
        return check_storage_uri(uri)
    except PydanticCustomError as exc:
        raise RegistryError(f"{source} gave a storage location the spec cannot take: {printable(exc.message())[:600]};"
                            " nothing was changed") from None


def version_by_alias(tracking_uri: str, name: str, alias: str) -> str:
    answer = _get(tracking_uri, "registered-models/alias", {"name": name, "alias": alias})
    try:
        version = answer["model_version"]["version"]
    except (KeyError, TypeError):
        raise RegistryError(f"MLflow at {tracking_uri} gave no version for alias `{alias}` of `{name}`") from None
    return check_version(version, f"MLflow at {tracking_uri} (alias `{alias}` of `{name}`)")


def download_uri(tracking_uri: str, name: str, version: str) -> str:
    answer = _get(tracking_uri, "model-versions/get-download-uri", {"name": name, "version": version})
    uri = answer.get("artifact_uri") if isinstance(answer, dict) else None
    if isinstance(uri, str) and uri.startswith(("mlflow-artifacts:", "models:", "runs:")) and uri.isprintable():
        raise RegistryError(
            f"MLflow gives `{uri}` as the storage of {name} version {version}, which KServe cannot read;"
            " run the MLflow server with an object-store artifact root (e.g. `--default-artifact-root"
            " s3://mlflow-artifacts --no-serve-artifacts`), or pass --storage-uri")
    return check_storage(uri, f"MLflow at {tracking_uri} (`{name}` version {version})")


def _get(tracking_uri: str, endpoint: str, query: dict[str, str]) -> dict:
    if not tracking_uri.startswith(("http://", "https://")):
        raise RegistryError(f"`{tracking_uri}` is not an MLflow tracking server URL (http:// or https://)")
    url = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json", **_auth_headers()})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise RegistryError(f"MLflow at {tracking_uri}: {_error_message(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(f"MLflow at {tracking_uri} is not reachable: {reason}") from None
    except ValueError:
        raise RegistryError(f"MLflow at {tracking_uri} did not answer with JSON") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode("utf-8"))
        return f"{body.get('error_code', exc.code)}: {str(body.get('message', '')).splitlines()[0]}"
    except (ValueError, AttributeError, IndexError, OSError):
        return f"HTTP {exc.code} {exc.reason}"


def _auth_headers() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}
    return {}
