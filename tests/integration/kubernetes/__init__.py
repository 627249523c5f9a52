"""Kubernetes: strict CRD schemas and `kubectl kustomize`."""
