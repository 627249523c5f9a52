"""Refuse secrets written inline.

A spec is committed to git and compiled into files that are committed too, so a password
in it is a leaked password. Keys that name a secret must hold a reference (a Secret name,
a `secretKeyRef`, an Airflow connection id), never the value. This runs on the raw
document so the user hears "literal secret", not a less helpful "unknown key".
"""

from __future__ import annotations

import re
from typing import Any

from mlspec.diagnostics import Diagnostic
from mlspec.source.loader import LoadedSource

# Key names that hold secret values: password, passwd, secret, secretKey, token, api_key,
# apiKey, access_key, secret_access_key, private_key, credentials...
_SECRET_KEY_RE = re.compile(
    r"(pass(word|wd)?|secret([_-]?key)?|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?$",
    re.IGNORECASE)
_REFERENCE_KEYS = {"credentialsSecret", "secretKeyRef"}
# Mappings whose keys are user-chosen names (a feature called `max_tokens`), not settings.
_NAME_KEYED_PARENTS = {"features", "columns", "gates", "labels"}
_URL_CREDENTIALS_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


def find_literal_secrets(source: LoadedSource) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    _walk(source, source.data, (), found)
    return found


def _walk(source: LoadedSource, value: Any, path: tuple, found: list[Diagnostic]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            child = path + (key,)
            if _looks_like_literal_secret(key, item, path):
                found.append(Diagnostic(
                    "E301", f"`{key}` holds a secret written inline", source.path,
                    source.positions.value_span(child), child, label="literal secret",
                    help="store it in a Kubernetes Secret and reference it, e.g."
                         " `{secretKeyRef: {name: my-secret, key: " + str(key).lower() + "}}`"))
            else:
                _walk(source, item, child, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(source, item, path + (index,), found)
    elif isinstance(value, str) and _URL_CREDENTIALS_RE.match(value):
        found.append(Diagnostic(
            "E301", "credentials are written into a URL", source.path, source.positions.value_span(path), path,
            label="user:password@ in URL", help="remove them and reference a secret instead"))


def _looks_like_literal_secret(key: Any, value: Any, parent: tuple) -> bool:
    key = str(key)
    if key in _REFERENCE_KEYS or not _SECRET_KEY_RE.search(key):
        return False
    if parent and parent[-1] in _NAME_KEYED_PARENTS:
        return False
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
        return False
    # `credentialsSecret: minio-credentials` names a Secret; a key like `secret` inside a
    # `secretKeyRef` mapping is fine too.
    if key.endswith(("Secret", "SecretName", "Ref")) or (parent and parent[-1] == "secretKeyRef"):
        return False
    return True
