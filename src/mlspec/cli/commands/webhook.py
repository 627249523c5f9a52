"""`mlspec webhook serve`: MLflow model-registry webhooks -> promote and publish."""

from __future__ import annotations

import os

import click

from mlspec.cli import options
from mlspec.errors import UsageError


@click.group("webhook")
def command() -> None:
    """Receive MLflow model-registry webhooks."""


@command.command("serve")
@options.spec_paths
@options.environment(required=True, help="Environment an alias event promotes in.")
@options.repo(required=True, help="Deployments repository to publish to (see `mlspec publish`).")
@options.branch("Branch of --repo.")
@options.push()
@options.out("Where specs are recompiled.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@options.tracking_uri
@click.option("--alias", "aliases", multiple=True, help="Aliases that promote [default: each model's"
              " registry.alias].")
@click.option("--commit/--no-commit", "commit", default=None,
              help="Commit each promotion's spec edit (the spec file and its recompiled output) to the spec's git"
              " repository and push it to the checkout's upstream branch before publishing, so the spec stays the"
              " source of truth (the spec CI's next publish keeps the promotion). The checkout is fast-forwarded"
              " first; a push that lost a race is rebased and retried, never forced. If the push fails the"
              " promotion is undone and nothing is published; if the publish fails after it, the pushed commit"
              " stays and `mlspec publish` from it is the retry. [default: on when the specs are in a git"
              " checkout whose branch tracks an upstream; without it the edit stays uncommitted in the checkout]")
@click.option("--secret-env", default="MLSPEC_WEBHOOK_SECRET", show_default=True,
              help="Environment variable holding the webhook's HMAC secret.")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="Folder keeping the ids of deliveries already received, so a replay is refused after a restart"
              " too [default: $XDG_STATE_HOME/mlspec/webhook, else ~/.local/state/mlspec/webhook].")
@click.option("--max-connections", default=16, show_default=True, type=click.IntRange(1, 1024),
              help="Connections served at once; more are answered 503.")
@click.option("--request-timeout", default=15.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds a client has to send its whole request.")
def serve(paths, env, repo, branch, push, out, host, port, tracking_uri, aliases, commit, secret_env, state_dir,
          max_connections, request_timeout) -> None:
    """Promote and publish when MLflow sets a model's alias (signed webhooks only)."""
    from pathlib import Path

    from mlspec.git import check_branch_name
    from mlspec.gitops.publish import check_repo_argument
    from mlspec.gitops.webhook import Receiver, SeenDeliveries, Verifier, default_state_dir, log, make_server
    from mlspec.source.files import spec_files

    secret = os.environ.get(secret_env, "")
    if not secret:
        raise UsageError(f"set the webhook secret in ${secret_env} (the one given to MLflow's create_webhook);"
                         " unsigned webhooks are never accepted")
    files = spec_files(list(paths) or ["specs"])
    check_repo_argument(repo)
    if branch is not None:
        check_branch_name(branch)
    from mlspec.gitops.spec_commit import upstream

    tracked = {str(upstream(Path(f))) for f in files}
    if commit is None:
        commit = bool(files) and "None" not in tracked
    elif commit and "None" in tracked:
        raise UsageError("--commit: the specs must be in a git checkout whose branch tracks an upstream (the spec"
                         " commit is pushed there); check out such a branch, or pass --no-commit")
    receiver = Receiver(files, env, repo, branch, push, out, tracking_uri, tuple(aliases), commit=commit)
    seen = SeenDeliveries(Path(state_dir) if state_dir else default_state_dir())
    server = make_server(host, port, Verifier(secret, store=seen), receiver, timeout=request_timeout,
                         max_connections=max_connections)
    log(f"listening on http://{server.server_address[0]}:{server.server_address[1]}/ for MLflow webhooks"
        f" (promoting in {env}, " + ("committing and pushing each spec edit, then " if commit else
                                      "spec edits left uncommitted (--no-commit), ") + f"publishing to {repo})")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
