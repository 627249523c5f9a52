"""mlspec: compile one YAML spec per ML system into the configs of an MLOps platform."""

__version__ = "0.1.0"
