"""Integration tests, one folder per real tool the generated files meet (Airflow, kfp, Feast, GX,
DVC, MLflow, git, Kubernetes schemas and kustomize, the operating system), and the README tour."""
