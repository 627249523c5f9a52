"""One module per command; each defines `command`, which `mlspec.cli.app` loads by name."""
