"""Options shared by several commands, declared once (dbt's habit): each is a decorator
factory, so a command stacks the ones it takes and its body stays a few lines."""

from __future__ import annotations

import click

from mlspec.cli.output import DIAGNOSTIC_FORMATS


def spec_paths(command):
    """SPEC files or folders; `specs` when none is given."""
    return click.argument("paths", nargs=-1, type=click.Path())(command)


def diagnostics_format(command):
    return click.option(
        "--format", "fmt", type=click.Choice(DIAGNOSTIC_FORMATS), default="human", show_default=True,
        help="How diagnostics are printed: for people, for tools, or as GitHub workflow annotations.")(command)


def out(help: str = "Output folder; each system gets its own subfolder."):
    return click.option("--out", "out", default="generated", show_default=True, type=click.Path(), help=help)


def environment(required: bool = False, help: str = "Environment."):
    return click.option("--env", "env", required=required, default=None, help=help)


def environments(help: str = "Only this environment (repeatable)."):
    return click.option("--env", "envs", multiple=True, help=help)


def repo(required: bool = False, help: str | None = None):
    return click.option("--repo", "repo", required=required, default=None, help=help or (
        "Deployments repository: a local clone (the default target, no server needed), a bare repository or a"
        " git URL (cloned, committed and pushed)."))


def branch(help: str = "Branch of --repo to commit to [default: the clone's current branch, or the remote's"
                       " default branch]."):
    return click.option("--branch", "branch", default=None, help=help)


def push(help: str = "Push the commit of a local clone named by --repo to its remote (rebasing and retrying when"
                     " the remote moved on; never forced)."):
    return click.option("--push", "push", is_flag=True, help=help)


def tracking_uri(command):
    return click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI,"
                        " else the spec's platform.mlflow.trackingUri].")(command)


def stack(*decorators):
    """Several options as one decorator, applied so they list in the order given."""
    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command
    return apply


def publishing(out_help: str = "Where the spec is recompiled after the change."):
    """The options of a command that edits the spec, recompiles it and may publish."""
    return stack(out(out_help), repo(help="Also publish to this deployments repository (see `mlspec publish`)."),
                 branch("Branch of --repo to commit to."), push("Push the commit of a local clone named by --repo."))


def commit(command):
    return click.option("--commit", "commit", is_flag=True, help=(
        "Also commit the spec change (the spec file and the system's recompiled output) to the spec's own git"
        " repository, with a message naming the model, environment, version and what decided it."))(command)


def push_spec(command):
    return click.option("--push-spec", "push_spec", is_flag=True, help=(
        "With --commit: first fast-forward the spec checkout to its upstream branch, then push the spec commit"
        " there before publishing (`git pull --rebase` and retry when the remote moved on, never forced). If"
        " the push fails the commit is undone and nothing is published; if the publish fails after it, the"
        " pushed commit stays and `mlspec publish` from it is the retry. For unattended runs (the decision"
        " job)."))(command)
