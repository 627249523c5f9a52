"""The `mlspec` command line: one module per command under `commands/`, loaded only when
that command runs (start-up matters: mlspec runs on every pull request and in pre-commit).

Core code returns data and raises typed errors (`mlspec.errors`); this is the one place
that turns them into exit codes: 0 ok, 1 spec errors or stale output, 2 usage, 3 internal,
4 an external operation failed (git, the network, MLflow).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from mlspec.errors import ExitCode, MlspecError
from mlspec.textsafe import printable

# mlspec validates its own spec models with pydantic; third-party pydantic plugins (found by
# scanning every installed package's entry points, ~25 ms in a large environment) have no
# business observing them, so the CLI process does not load any.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def _no_plugin_discovery() -> None:
    """With every plugin disabled, pydantic's plugin loader answers "no plugins" without
    looking; but the module that says so imports importlib.metadata (email, zipfile, csv...)
    when the first model is built: a fifth of the import floor on every cold run. While the
    variable says `__all__`, a module that gives the same answer stands in for it (pydantic
    imports it by name, `from ._loader import get_plugins`, so it finds this one)."""
    import types

    name = "pydantic.plugin._loader"
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") != "__all__" or name in sys.modules:
        return
    loader = types.ModuleType(name, "pydantic's plugin loader with every plugin disabled (mlspec.cli.app)")
    loader.get_plugins = lambda: ()
    sys.modules[name] = loader


_no_plugin_discovery()

# command name -> module under mlspec.cli.commands defining `command`, in the order `--help` lists them.
COMMANDS = {
    "init": "init",
    "validate": "validate",
    "compile": "compile",
    "explain": "explain",
    "codes": "codes",
    "targets": "targets",
    "schema": "schema",
    "docs": "docs",
    "diff": "diff",
    "graph": "graph",
    "impact": "impact",
    "publish": "publish",
    "promote": "promote",
    "rollback": "rollback",
    "rollout": "rollout",
    "webhook": "webhook",
    "lineage": "lineage",
    "run": "run",
    "lsp": "lsp",
    "ci": "ci",
}


class _Cli(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        module = COMMANDS.get(name)
        if module is None:
            return None
        return importlib.import_module(f"mlspec.cli.commands.{module}").command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # The reader of stdout went away (`mlspec lineage emit --file - | head`): click's
            # main ends the run quietly with exit 1, as it does when --help meets a closed pipe.
            raise
        except MlspecError as exc:
            # Messages quote paths, branch names and git's output: no control character of
            # theirs reaches the terminal or the CI log (line breaks of a long message stay).
            click.echo(f"error: {printable(exc, keep=chr(10))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug in mlspec, not in the user's spec
            if os.environ.get("MLSPEC_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {printable(exc)}\n"
                       "This is a bug in mlspec. Re-run with MLSPEC_DEBUG=1 for the traceback and report it.",
                       err=True)
            sys.exit(ExitCode.INTERNAL)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlspec", message="mlspec %(version)s")
def cli() -> None:
    """Compile one YAML spec per ML system into the configs of an MLOps platform."""


def main() -> None:
    cli(prog_name="mlspec")
