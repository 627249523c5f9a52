"""Kubeflow Pipelines: kfp's compiler and its local runner."""
