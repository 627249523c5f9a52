"""Secrets are references: what the literal-secret check refuses and what it lets through
(placeholders, Secret names, ports and plain user names in URLs, numbers that are not
passwords). The refused forms are in the invalid corpus (tests/cases/invalid/secret-*)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.compiler.session import load_text

HEADER = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: churn}\n"


def secrets_in(body: str) -> list[str]:
    unit = load_text(Path("spec.yaml"), HEADER + body)
    return [d.path_text for d in unit.diagnostics if d.code == "E301"]


@pytest.mark.parametrize("body", [
    # Feast expands ${VAR} in its store config: the documented way to give it a password.
    "platform:\n  feast:\n    onlineStore: {type: redis, connection_string: \"redis:6379,password=${REDIS_PASSWORD}\"}\n",
    "platform:\n  feast:\n    onlineStore: {type: redis, password: \"${REDIS_PASSWORD}\"}\n",
    "platform:\n  objectStore: {endpoint: \"http://minio:9000/x@v2\", credentialsSecret: minio-credentials}\n",
    "platform:\n  deployments: {repoURL: \"ssh://git@github.com/org/deployments.git\"}\n",
    "platform:\n  feast:\n    offlineStore: {type: file, max_tokens: 100}\n",
])
def test_references_and_look_alikes_are_not_secrets(body: str):
    assert secrets_in(body) == []


@pytest.mark.parametrize("body, where", [
    ("platform:\n  feast:\n    onlineStore: {type: redis, connection_string: \"redis:6379,password=S3cr3t\"}\n",
     "platform.feast.onlineStore.connection_string"),
    ("platform:\n  feast:\n    onlineStore: {type: postgres, password: 12345678}\n",
     "platform.feast.onlineStore.password"),
    ("platform:\n  deployments: {repoURL: \"https://oauth2:abc@gitlab.com/org/deploy\"}\n",
     "platform.deployments.repoURL"),
])
def test_literal_secrets_are_found_where_they_are(body: str, where: str):
    assert secrets_in(body) == [where]


# The backtracking regex the scan used before it was made linear: same findings, kept here
# as the reference.
_OLD_URL_USERINFO_RE = re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,32}://([^\s@]{0,512})@", re.IGNORECASE)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1+.-:/@ xZ_")), max_size=120)
       | st.lists(st.sampled_from(["x://", "a:b@", "@", " ", "https://", "u:p", "x" * 40, "y" * 600, "-", "/"]),
                  max_size=12).map("".join))
def test_the_linear_userinfo_search_finds_what_the_regex_found(text):
    from mlspec.spec.secrets import _url_userinfos

    assert list(_url_userinfos(text)) == [m.group(1) for m in _OLD_URL_USERINFO_RE.finditer(text)]
