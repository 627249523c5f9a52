"""Exit codes and the typed errors core code raises instead of printing.

Core functions return data and raise these; only the CLI prints and turns them into exit
codes (one enum, documented in the README):

    0 ok, 1 spec errors or stale output, 2 usage error, 3 internal error (a bug),
    4 an external operation failed (git, the network, MLflow, a server).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    SPEC_ERRORS = 1  # the spec has errors, or generated output is stale
    USAGE = 2  # the command line names something that does not exist or does not fit
    INTERNAL = 3  # a bug in mlspec, or the machine failed us (a write error): nothing half-done
    EXTERNAL = 4  # git, the network, MLflow or another service refused or failed


class MlspecError(Exception):
    """An error the user can act on; its message is fit to print as it is."""

    exit_code: ExitCode = ExitCode.USAGE


class SpecError(MlspecError):
    """The spec stands in the way of the operation (it has errors, or cannot take an edit).
    `diagnostics` holds the front end's findings, when there are any, for the CLI to print."""

    exit_code = ExitCode.SPEC_ERRORS

    def __init__(self, message: str, units: list | None = None):
        super().__init__(message)
        self.units = units or []


class UsageError(MlspecError):
    """The command line (or a path it names) is wrong."""

    exit_code = ExitCode.USAGE


class ExternalError(MlspecError):
    """An operation outside mlspec failed: git, an HTTP request, MLflow."""

    exit_code = ExitCode.EXTERNAL
