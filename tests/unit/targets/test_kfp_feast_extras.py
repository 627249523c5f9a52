"""The kfp target warns (W701) when the spec's Feast online store needs a client that is a Feast
extra (`feast[redis]`, `feast[postgres]`...): the training step builds Feast's RepoConfig from the
store, which imports the store's module, and fails with FeastModuleImportError without it (found
writing the corpus's card-fraud and delivery-time specs, whose Redis store `feast plan` refused)."""

from __future__ import annotations

import pytest

from conftest import SPECS

REDIS = "  feast: {registry: s3://feast-registry/customer-churn/registry.db, onlineStore: {type: redis}}\n"


def _kfp_warnings(tmp_path, online_store: str, packages: str | None) -> list[str]:
    from mlspec.compiler.compile import compile_spec

    text = (SPECS / "customer-churn.yaml").read_text(encoding="utf-8")
    feast_line = next(line for line in text.splitlines(keepends=True) if line.startswith("  feast:"))
    text = text.replace(feast_line, REDIS.replace("{type: redis}", online_store))
    if packages is not None:
        text = text.replace("      image: ghcr.io/myorg/churn-train:1.4.0\n",
                            f"      image: ghcr.io/myorg/churn-train:1.4.0\n      packages: {packages}\n")
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    result = compile_spec(spec, tmp_path / "generated", targets=["kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    return [d.message for d in result.diagnostics if d.code == "W701" and "online store" in d.message]


@pytest.mark.parametrize(("store", "extra"), [("{type: redis, connection_string: 'redis:6379'}", "redis"),
                                               ("{type: postgres, host: pg}", "postgres")])
def test_an_online_store_whose_client_is_a_feast_extra(tmp_path, store, extra):
    [warning] = _kfp_warnings(tmp_path, store, None)
    assert warning.startswith(f"kfp: model `churn`: Feast's `{extra}` online store")
    assert f"`feast[{extra}]`" in warning and "training.packages" in warning


@pytest.mark.parametrize("packages", ['["feast[redis]==0.67.0"]', '["redis>=5"]', '["Feast[aws,redis]"]'])
def test_silent_when_the_training_packages_bring_the_client(tmp_path, packages):
    assert _kfp_warnings(tmp_path, "{type: redis}", packages) == []


def test_silent_for_the_default_sqlite_store_and_dynamodb(tmp_path):
    assert _kfp_warnings(tmp_path, "{type: sqlite, path: data/online.db}", None) == []
    assert _kfp_warnings(tmp_path / "d", "{type: dynamodb, region: eu-west-1}", None) == []
