"""MLflow: a real `mlflow server` calling the webhook receiver."""
