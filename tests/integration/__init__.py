"""Integration tests, one folder per real tool the generated files and the runtime code meet
(Airflow, kfp, Feast, Great Expectations, Evidently, DVC, MLflow, git, Kubernetes schemas and
kustomize, the operating system), and the README tour."""
