"""Synthetic specs of any size, for the scale and --check benchmarks (and the tests that
need a big spec): N models, with datasets and feature views in proportion."""

from __future__ import annotations

from pathlib import Path


def synthetic_spec(name: str, models: int, datasets: int | None = None) -> str:
    datasets = datasets or max(1, (models + 1) // 2)
    lines = [
        "apiVersion: mlspec/v1alpha1",
        "kind: MLSystem",
        f"metadata: {{name: {name}, owner: bench@example.com}}",
        "platform:",
        "  objectStore: {endpoint: http://minio:9000, credentialsSecret: minio-credentials}",
        "  mlflow: {trackingUri: http://mlflow:5000}",
        "  kubeflow: {host: http://ml-pipeline:8888}",
        "  lineage: {url: http://marquez:5000, namespace: bench}",
        "  prometheus: {url: http://prometheus:9090}",
        "  deployments: {repoURL: https://git.example.com/deploy.git}",
        "datasets:",
    ]
    for d in range(datasets):
        lines += [
            f"  data_{d}:",
            f"    source: {{sql: \"SELECT * FROM table_{d}\", connection: warehouse}}",
            f"    storage: s3://raw/data_{d}.parquet",
            "    schedule: \"@daily\"",
            "    versioning: {dvc: {remote: s3://dvc}}",
            "    columns:",
            "      entity_id: {type: int64, nullable: false}",
            "      label: {type: int8, in: [0, 1]}",
            "      group: {type: string}",
            "      f1: {type: float32}",
            "      f2: {type: float32}",
            "      f3: {type: int32}",
            "      event_timestamp: {type: timestamp}",
        ]
    lines += ["entities:", "  entity: {joinKeys: [entity_id]}", "featureViews:"]
    for d in range(datasets):
        lines += [f"  view_{d}: {{entities: [entity], source: data_{d}, timestampField: event_timestamp, ttl: 1d,"
                  " features: {f1: float32, f2: float32, f3: int32}}"]
    lines += ["models:" if models else "models: {}"]
    for m in range(models):
        d = m // 2
        lines += [
            f"  model-{m}:",
            "    task: binary_classification",
            f"    features: [view_{d}.f1, view_{d}.f2, view_{d}.f3]",
            f"    label: data_{d}.label",
            "    training: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 200}}",
            "    evaluation: {gates: {accuracy: \">= 0.5\"}, fairness: {sensitive: [group], maxDisparity: 0.2}}",
            f"    registry: {{name: Model{m}}}",
            f"    serving: {{format: mlflow, storageUri: s3://mlflow/{m}/model, modelVersion: \"1\"}}",
            "    rollout: {canaryTrafficPercent: 10, slo: api}",
            "    monitoring: {drift: {maxDriftShare: 0.3}}",
            f"    card: {{overview: Synthetic model {m}.}}",
        ]
    lines += [
        "slos:",
        "  api: {errorRate: {max: 0.01}, latencyP95Ms: {max: 100}}",
        "environments:",
        "  dev: {namespace: bench-dev}",
        "  prod: {namespace: bench}",
        "deploy:",
        "  argocd: {automated: {prune: true, selfHeal: true}}",
    ]
    return "\n".join(lines) + "\n"


def write_synthetic(folder: Path, name: str, models: int, datasets: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(synthetic_spec(name, models, datasets))
    return path
