"""A small system for tests of serving and rollout: one dataset, one feature view, and the
base of a model (`*model`) that each test's models extend with their serving and rollout."""

LAB_PLATFORM = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: lab}
platform:
  objectStore: {endpoint: http://minio:9000, credentialsSecret: minio-credentials}
  mlflow: {trackingUri: http://mlflow:5000}
  prometheus: {url: http://prometheus:9090}
"""

LAB_DATA = """\
datasets:
  customers:
    source: {sql: "SELECT * FROM customers", connection: warehouse}
    storage: s3://raw-data/customers.parquet
    columns:
      customer_id: {type: int64, nullable: false, unique: true}
      total_purchases: {type: float32, min: 0}
      churn: {type: int8, in: [0, 1]}
      event_timestamp: {type: timestamp}
entities:
  customer: {joinKeys: [customer_id]}
featureViews:
  customer_features:
    entities: [customer]
    source: customers
    timestampField: event_timestamp
    ttl: 1d
    features: {total_purchases: float32}
"""


def lab_spec(models: str, platform: str = "", rest: str = "") -> str:
    """The lab system's text: `platform` adds lines under `platform:`, `models` follows
    `models:` (its first model should anchor `&model` on the shared base), `rest` comes last."""
    return LAB_PLATFORM + platform + LAB_DATA + "models:\n" + models + rest
