"""`mlspec targets`: the targets compile can generate."""

from __future__ import annotations

import click


@click.command("targets")
def command() -> None:
    """List the targets compile can generate, built-in and installed."""
    from mlspec.targets.registry import available_targets, load_target

    for name in available_targets():
        click.echo(f"{name:18} {load_target(name).description}")
