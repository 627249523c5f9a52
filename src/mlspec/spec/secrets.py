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
# scheme://userinfo@host anywhere in a string; userinfo may be empty before the colon. Found
# without a backtracking regex, so that the scan stays linear in the text with a small
# constant (see _url_userinfos): a userinfo is the tail of a run of characters other than
# white space and `@` that ends at an `@`, after the run's first `scheme://` within
# _MAX_USERINFO characters of that `@`.
_MAX_USERINFO = 512
_MAX_SCHEME = 33
_RUN_RE = re.compile(r"[^\s@]+")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
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
    _walk(source, source.data, (), found, {})
    return found


def _walk(source: LoadedSource, value: Any, path: tuple, found: list[Diagnostic],
          scanned: dict[int, tuple[str, ...] | None]) -> None:
    """`scanned` maps the id of each string already read to what was found in it. The
    loader builds every alias of a YAML node from the same string objects, so text shared
    through aliases (62 aliases of a 1 MB value) is read once however often it appears."""
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
                _walk(source, item, child, found, scanned)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(source, item, path + (index,), found, scanned)
    elif isinstance(value, str):
        if id(value) in scanned:
            # Reported at the first place it appears (the anchor, where it is fixed).
            return
        problem = scanned[id(value)] = _secret_in_text(value)
        if problem:
            message, label, help = problem
            found.append(Diagnostic("E301", message, source.path, source.positions.value_span(path), path,
                                    label=label, help=help))


def _secret_in_text(text: str) -> tuple[str, str, str] | None:
    """(message, label, help) when `text` holds credentials."""
    for userinfo in (_url_userinfos(text) if "://" in text and "@" in text else ()):
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


def _url_userinfos(text: str):
    """The userinfo part of each `scheme://userinfo@` in `text` (at most one per `@`), in
    time linear in the text: each run of characters other than white space and `@` is read
    once, and only the last _MAX_USERINFO characters before its `@` are searched for `://`.
    A scheme is a letter then letters, digits, `+`, `.` or `-` (RFC 3986), not preceded by
    one of those (it starts where a scheme can start)."""
    for run in _RUN_RE.finditer(text):
        start, end = run.span()
        if end >= len(text) or text[end] != "@":
            continue
        colon = text.find("://", max(start, end - _MAX_USERINFO - 3), end)
        while colon != -1:
            scheme_start = colon
            while scheme_start > start and colon - scheme_start <= _MAX_SCHEME and text[scheme_start - 1] in _SCHEME_CHARS:
                scheme_start -= 1
            scheme_ok = (0 < colon - scheme_start <= _MAX_SCHEME and text[scheme_start].isascii()
                         and text[scheme_start].isalpha()
                         and (scheme_start == start or text[scheme_start - 1] not in _SCHEME_CHARS))
            if scheme_ok:
                yield text[colon + 3:end]
                break
            colon = text.find("://", colon + 1, end)


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
