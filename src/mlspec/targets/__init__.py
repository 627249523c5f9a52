"""Targets: one module per tool, each a `Target` subclass registered in `registry`."""
