"""Targets: golden outputs, model cards, What-If notebooks, the registry and templating."""
