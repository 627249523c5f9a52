"""`mlspec lsp`: the language server for spec files (LSP over stdio), for any editor."""

from __future__ import annotations

import click

from mlspec.errors import UsageError


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin/stdout (the default and only transport; editors"
                                            " that pass --stdio are accepted).")
@click.option("--codes-url", default="", metavar="URL",
              help="Where diagnostics link the documentation of their code (`URL#e207`) [default: the docs/codes.md"
                   " that comes with mlspec]. Editors may also pass `codesUrl` in initializationOptions.")
def command(stdio: bool, codes_url: str) -> None:
    """Run the language server: diagnostics as `mlspec validate` reports them (every
    environment included) as you type, hover with each field's documentation and its
    effective value per environment, go to definition, references, completion, quick fixes
    and rename. Needs the `lsp` extra (`pip install 'mlspec[lsp]'`)."""
    import sys

    sys.dont_write_bytecode = True  # the server writes no file: not even the bytecode of what it imports next
    try:
        import pygls  # noqa: F401 - imported here only: the server stays off the CLI's start-up path
    except ImportError:
        raise UsageError("`mlspec lsp` needs pygls: pip install 'mlspec[lsp]'") from None
    from mlspec.lsp.server import serve

    serve(codes_url)
