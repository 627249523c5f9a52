"""Refuse secrets written inline.

A spec is committed to git and compiled into files that are committed too, so a password
in it is a leaked password. Secrets are references: a Kubernetes Secret name
(`credentialsSecret`), a `{secretKeyRef: {name, key}}`, an Airflow connection id, or a
`${ENV_VAR}` placeholder that the tool reading the file expands (Feast does). This runs on
the raw document, free-form maps included (Feast stores, training params and env, runtime
options), so the user hears "literal secret", not a less helpful "unknown key".

What is refused:
- a key that names a secret (`password`, `token`, `apiKey`, `secret_access_key`...) holding
  a value: a string that is not a `${VAR}` placeholder, a password-like number, a list, or
  a mapping other than `{secretKeyRef: ...}`;
- credentials in a URL anywhere in a string (`redis://:pw@host`, `https://user:pw@host`,
  `https://ghp_token@github.com`, also inside `--index-url=...`);
- `password=`, `token=`, `pwd=`... with a value inside a connection string.
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
# Keys whose numbers are secrets too (a numeric password); a `max_tokens: 100` is not.
_NUMERIC_SECRET_KEY_RE = re.compile(r"pass(word|wd)?$", re.IGNORECASE)
_REFERENCE_KEYS = {"credentialsSecret", "secretKeyRef"}
# Mappings whose keys are user-chosen names (a feature called `max_tokens`), not settings.
_NAME_KEYED_PARENTS = {"features", "columns", "gates", "labels"}
_PLACEHOLDER_RE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
# scheme://userinfo@host anywhere in a string; userinfo may be empty before the colon.
# The look-behind starts a match only where a scheme can start and the user part is bounded,
# which keeps the search linear on hostile text (a 16 MB description, thousands of `x://`).
_URL_USERINFO_RE = re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,32}://([^\s@]{0,512})@", re.IGNORECASE)
# What follows the first `:` of that part when it is a port and a path, not a password
# (`http://host:8080/path@v2`).
_PORT_AND_PATH_RE = re.compile(r"^\d+(/|$)")
# A user name alone that is really a token (GitHub, GitLab, Slack, OpenAI, AWS key ids).
_TOKEN_USER_RE = re.compile(r"^(gh[pousr]_|github_pat_|glpat-|xox[abprs]-|sk-|AKIA)|^[A-Za-z0-9_-]{32,}$")
# `password=...` inside a connection string (Redis, JDBC, ODBC, URL queries).
_INLINE_SECRET_RE = re.compile(
    # `AccountKey=` (an Azure connection string), `sig=` and `SharedAccessSignature=` (a SAS token).
    r"(?<![\w-])(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|auth|account[_-]?key"
    r"|sig|sharedaccesssignature)"
    r"\s*=\s*(?!\$\{)([^\s,;&]+)", re.IGNORECASE)


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
                         " `{secretKeyRef: {name: my-secret, key: " + str(key).lower() + "}}`, or write a"
                         " `${ENV_VAR}` placeholder where the tool expands one"))
            else:
                _walk(source, item, child, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(source, item, path + (index,), found)
    elif isinstance(value, str):
        problem = _secret_in_text(value)
        if problem:
            message, label, help = problem
            found.append(Diagnostic("E301", message, source.path, source.positions.value_span(path), path,
                                    label=label, help=help))


def _secret_in_text(text: str) -> tuple[str, str, str] | None:
    """(message, label, help) when `text` holds credentials."""
    for match in (_URL_USERINFO_RE.finditer(text) if "://" in text and "@" in text else ()):
        userinfo = match.group(1)
        user, colon, password = userinfo.partition(":")
        if (colon and not _PORT_AND_PATH_RE.match(password)) or (not colon and _TOKEN_USER_RE.search(user)):
            return ("credentials are written into a URL", "user:password@ in URL",
                    "remove them and reference a secret instead")
    inline = _INLINE_SECRET_RE.search(text) if "=" in text else None
    if inline:
        return (f"a secret is written into a connection string (`{inline.group(1)}=`)", "literal secret",
                f"write `{inline.group(1)}=${{ENV_VAR}}` and set the variable where the tool runs, or reference"
                " a Secret")
    return None


def _looks_like_literal_secret(key: Any, value: Any, parent: tuple) -> bool:
    key = str(key)
    if key in _REFERENCE_KEYS or not _SECRET_KEY_RE.search(key):
        return False
    if parent and parent[-1] in _NAME_KEYED_PARENTS:
        return False
    # `credentialsSecret: minio-credentials` names a Secret; a key like `secret` inside a
    # `secretKeyRef` mapping is fine too.
    if key.endswith(("Secret", "SecretName", "Ref")) or (parent and parent[-1] == "secretKeyRef"):
        return False
    if value is None or isinstance(value, bool) or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, str):
        return not _PLACEHOLDER_RE.match(value)
    if isinstance(value, (int, float)):
        return bool(_NUMERIC_SECRET_KEY_RE.search(key))
    if isinstance(value, dict):
        return set(value) != {"secretKeyRef"}
    return True  # a list of values under a secret's name
