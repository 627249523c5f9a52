"""The `mlspec` command line."""

from mlspec.cli.app import cli, main

__all__ = ["cli", "main"]
