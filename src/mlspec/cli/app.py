"""The `mlspec` command line.

Start-up matters (it runs on every pull request and in pre-commit), so this module imports
only click; each command imports what it needs when it runs. Exit codes: 0 ok, 1 spec
errors or stale output, 2 usage errors, 3 internal error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

# mlspec validates its own spec models with pydantic; third-party pydantic plugins (found by
# scanning every installed package's entry points, ~25 ms in a large environment) have no
# business observing them, so the CLI process does not load any.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _use_colour() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


format_option = click.option(
    "--format", "fmt", type=click.Choice(["human", "json", "github"]), default="human", show_default=True,
    help="How diagnostics are printed: for people, for tools, or as GitHub workflow annotations.")


class _Cli(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug in mlspec, not in the user's spec
            if os.environ.get("MLSPEC_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "This is a bug in mlspec. Re-run with MLSPEC_DEBUG=1 for the traceback and report it.",
                       err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlspec", message="mlspec %(version)s")
def cli() -> None:
    """Compile one YAML spec per ML system into the configs of an MLOps platform."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@format_option
def validate(paths: tuple[str, ...], fmt: str) -> None:
    """Check spec files (or folders of them) and report every problem with its position."""
    from mlspec.build.session import spec_files

    files = spec_files(list(paths) or ["specs"])
    results = [_validate_file(path) for path in files]
    failed = _report(results, fmt)
    if fmt == "human" and not failed:
        click.echo(f"{len(results)} spec{'s' if len(results) != 1 else ''} valid", err=True)
    sys.exit(EXIT_SPEC_ERRORS if failed else EXIT_OK)


def _validate_file(path: Path):
    """The front end's verdict on one file, from the cache when mlspec and the file are
    unchanged since it was last computed (then pydantic is not even imported)."""
    from mlspec.build import cache
    from mlspec.build.session import FrontendResult, load_and_check
    from mlspec.source.loader import LoadedSource, read_spec_file

    raw, _ = read_spec_file(path)  # a file over the size limit is not read
    if raw is None:
        return load_and_check(path)  # reports why
    key = cache.validation_key(str(path), raw) if cache.enabled() else ""
    hit = cache.get("validate", key) if key else None
    if hit is not None:
        text = raw.decode("utf-8", errors="replace")
        diagnostics = [cache.diagnostic_from_json(d) for d in hit["diagnostics"]]
        return FrontendResult(str(path), LoadedSource.for_rendering(str(path), text), None, diagnostics)
    result = load_and_check(path, raw)
    if key:
        cache.put("validate", key, {"diagnostics": [cache.diagnostic_to_json(d) for d in result.diagnostics]})
    return result


def _report(results, fmt: str) -> bool:
    """Print the diagnostics of every result; True when any has errors."""
    from mlspec.diagnostics import DiagnosticSink
    from mlspec.diagnostics.render import render

    sink = DiagnosticSink()
    sources = {}
    for result in results:
        sink.extend(result.diagnostics)
        if result.source is not None:
            sources[result.source.path] = result.source.text
    diagnostics = sink.sorted()
    text = render(diagnostics, fmt, sources, colour=_use_colour() and fmt == "human")
    if text:
        # Machine formats go to stdout (to be piped); the human one to stderr like a compiler.
        click.echo(text, nl=False, err=(fmt == "human"))
    elif fmt == "json":
        click.echo(render(diagnostics, fmt, sources), nl=False)
    return sink.has_errors


@cli.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) with a diff when the committed schema is stale.")
@click.option("--out", default=None, help="Where to write the schema [default: schema/mlspec.schema.json].")
def schema(check: bool, out: str | None) -> None:
    """Write the JSON Schema of the spec language (for editors and CI)."""
    from mlspec.spec.schema import SCHEMA_PATH, schema_text
    from mlspec.fsutil import unified_diff, write_text_atomic

    path = Path(out or SCHEMA_PATH)
    text = schema_text()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            click.echo(unified_diff(current, text, str(path)), nl=False)
            click.echo(f"{path} is stale; run `mlspec schema{' --out ' + out if out else ''}` and commit it",
                       err=True)
            sys.exit(EXIT_SPEC_ERRORS)
        click.echo(f"{path} is up to date", err=True)
        return
    write_text_atomic(path, text)
    click.echo(f"wrote {path}", err=True)


@cli.command()
@click.argument("name")
@click.option("--out", default=None, help="File to write [default: NAME.yaml, or specs/NAME.yaml when ./specs exists].")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(name: str, out: str | None, force: bool) -> None:
    """Write a commented starter spec for a new ML system."""
    from mlspec.cli.starter import starter_spec
    from mlspec.fsutil import write_text_atomic
    from mlspec.spec.types import DNS1123_LABEL_RE

    if len(name) > 40 or not DNS1123_LABEL_RE.match(name):
        raise click.BadParameter("use at most 40 lower-case letters, digits and `-` (it names Kubernetes"
                                 " resources)", param_hint="NAME")
    path = Path(out) if out else (Path("specs") / f"{name}.yaml" if Path("specs").is_dir() else Path(f"{name}.yaml"))
    if path.exists() and not force:
        raise click.UsageError(f"{path} already exists (use --force to overwrite)")
    write_text_atomic(path, starter_spec(name, path))
    click.echo(f"wrote {path}; check it with `mlspec validate {path}`", err=True)


def main() -> None:
    cli(prog_name="mlspec")


# --- compile ------------------------------------------------------------------------------


@cli.command("compile")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", "out", default="generated", show_default=True, type=click.Path(),
              help="Output folder; each system gets its own subfolder.")
@click.option("--env", "envs", multiple=True, help="Only this environment's manifests (repeatable).")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable); see `mlspec targets`.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the output on disk is stale.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print what a compile would change.")
@format_option
def compile_command(paths, out, envs, targets, check, show_diff, fmt) -> None:
    """Compile specs into the files each tool of the platform reads."""
    from mlspec.build.apply import run_compile

    code = run_compile(list(paths) or ["specs"], Path(out), list(envs), list(targets), check, show_diff, fmt,
                       colour=_use_colour(), report=_report)
    sys.exit(code)


@cli.command()
def targets() -> None:
    """List the targets compile can generate, built-in and installed."""
    from mlspec.targets.registry import available_targets, load_target

    for name in available_targets():
        cls = load_target(name)
        click.echo(f"{name:12} {cls.description}")


@cli.command()
@click.argument("key_path")
@click.argument("spec", required=False, type=click.Path())
@click.option("--env", "env", default=None, help="Show the value in this environment (overlays applied).")
def explain(key_path: str, spec: str | None, env: str | None) -> None:
    """Print the effective value at KEY.PATH and where it came from.

    SPEC defaults to the only spec under ./specs.
    """
    from mlspec.review.explain import explain_value

    if spec is None:
        from mlspec.build.session import expand_spec_paths

        found, _ = expand_spec_paths(["specs"]) if Path("specs").is_dir() else ([], [])
        if len(found) != 1:
            raise click.UsageError("name the spec file: `mlspec explain KEY.PATH SPEC`")
        spec = str(found[0])
    if not Path(spec).is_file():
        raise click.UsageError(f"no such file: {spec}")
    code, text, diagnostics = explain_value(Path(spec), key_path, env)
    if diagnostics:
        _report(diagnostics, "human")
    if text:
        click.echo(text, nl=False, err=(code != 0))
    sys.exit(code)


# --- GitOps: publish, promote, rollback, diff, graph, impact, webhook, lineage ---------------


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--repo", required=True, help="Deployments repository: a local clone (the default target, no"
              " server needed), a bare repository or a git URL (cloned, committed and pushed).")
@click.option("--branch", default=None, help="Branch to commit to [default: the clone's current branch, or the"
              " remote's default branch].")
@click.option("--push", is_flag=True, help="Push the commit of a local clone to its remote (rebasing and retrying"
              " when the remote moved on; never forced).")
@format_option
def publish(paths, repo, branch, push, fmt) -> None:
    """Commit the deployable manifests of specs into the GitOps deployments repository."""
    from mlspec.gitops.publish import run_publish

    sys.exit(run_publish(list(paths) or ["specs"], repo, branch, push, fmt, report=_report))


_publish_options = [
    click.option("--out", default="generated", show_default=True, type=click.Path(),
                 help="Where the spec is recompiled after the change."),
    click.option("--repo", default=None, help="Also publish to this deployments repository (see `mlspec publish`)."),
    click.option("--branch", default=None, help="Branch of --repo to commit to."),
    click.option("--push", is_flag=True, help="Push the commit of a local clone named by --repo."),
]


def _with_publish_options(command):
    for option in reversed(_publish_options):
        command = option(command)
    return command


@cli.command()
@click.argument("model")
@click.option("--env", "env", required=True, help="Environment to promote in.")
@click.option("--version", "version", default=None, help="Registered model version to promote.")
@click.option("--alias", "alias", default=None, help="Promote the version this MLflow alias points at.")
@click.option("--spec", default=None, type=click.Path(), help="Spec file [default: the one under ./specs that"
              " defines MODEL].")
@click.option("--storage-uri", default=None, help="The version's storage folder, instead of asking MLflow"
              " (needs --version).")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else the"
              " spec's platform.mlflow.trackingUri].")
@_with_publish_options
def promote(model, env, version, alias, spec, storage_uri, tracking_uri, out, repo, branch, push) -> None:
    """Serve a model version in an environment: start its canary, or complete the canary
    when that version is already in it. Edits the spec (a one-value diff), recompiles, and
    publishes with --repo."""
    from mlspec.gitops.promote import run_promotion

    if (version is None) == (alias is None):
        raise click.UsageError("give exactly one of --version or --alias")
    if storage_uri is not None and version is None:
        raise click.UsageError("--storage-uri needs --version (an alias can only be resolved by MLflow)")
    sys.exit(run_promotion("promote", model, env, spec, version, alias, storage_uri, tracking_uri, out, repo,
                           branch, push, report=_report))


@cli.command()
@click.argument("model")
@click.option("--env", "env", required=True, help="Environment to roll back in.")
@click.option("--spec", default=None, type=click.Path(), help="Spec file [default: the one under ./specs that"
              " defines MODEL].")
@_with_publish_options
def rollback(model, env, spec, out, repo, branch, push) -> None:
    """Send all traffic back to the previous version (ends the canary). Edits the spec,
    recompiles, and publishes with --repo."""
    from mlspec.gitops.promote import run_promotion

    sys.exit(run_promotion("rollback", model, env, spec, None, None, None, None, out, repo, branch, push,
                           report=_report))


@cli.command("diff")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", default="generated", show_default=True, type=click.Path(),
              help="Compare with this generated tree (unless --repo is given).")
@click.option("--repo", default=None, help="Compare the deployable manifests with this deployments repository.")
@click.option("--branch", default=None, help="Branch of --repo [default: its current or default branch].")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="markdown is ready to post as a pull-request comment.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes.")
def diff_command(paths, out, repo, branch, fmt, exit_code) -> None:
    """Show what compiling the specs would change: per target, files and Kubernetes objects
    added, changed and removed, then the unified diffs."""
    from mlspec.review.diff import run_diff

    sys.exit(run_diff(list(paths) or ["specs"], Path(out), repo, branch, fmt, exit_code, report=_report))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid",
              show_default=True, help="Mermaid renders in GitHub pull requests and Markdown files.")
def graph(paths, fmt) -> None:
    """Draw the lineage: datasets -> feature views -> models -> deployments, and the DAGs."""
    from mlspec.review.graph import run_graph

    sys.exit(run_graph(list(paths) or ["specs"], fmt, report=_report))


@cli.command()
@click.argument("node")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def impact(node, paths, fmt) -> None:
    """List everything downstream of NODE: dataset:NAME, feature:VIEW[.FEATURE], model:NAME
    (e.g. "if this table changes, which models are affected?")."""
    from mlspec.review.graph import run_impact

    sys.exit(run_impact(node, list(paths) or ["specs"], fmt, report=_report))


@cli.group()
def webhook() -> None:
    """Receive MLflow model-registry webhooks."""


@webhook.command("serve")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--env", "env", required=True, help="Environment an alias event promotes in.")
@click.option("--repo", required=True, help="Deployments repository to publish to (see `mlspec publish`).")
@click.option("--branch", default=None, help="Branch of --repo.")
@click.option("--push", is_flag=True, help="Push the commit of a local clone named by --repo.")
@click.option("--out", default="generated", show_default=True, type=click.Path(), help="Where specs are recompiled.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else the"
              " spec's].")
@click.option("--alias", "aliases", multiple=True, help="Aliases that promote [default: each model's"
              " registry.alias].")
@click.option("--secret-env", default="MLSPEC_WEBHOOK_SECRET", show_default=True,
              help="Environment variable holding the webhook's HMAC secret.")
def webhook_serve(paths, env, repo, branch, push, out, host, port, tracking_uri, aliases, secret_env) -> None:
    """Promote and publish when MLflow sets a model's alias (signed webhooks only)."""
    from mlspec.gitops.webhook import run_serve

    sys.exit(run_serve(list(paths) or ["specs"], env, repo, branch, push, out, host, port, tracking_uri,
                       tuple(aliases), secret_env))


@cli.group()
def lineage() -> None:
    """OpenLineage / Marquez."""


@lineage.command("emit")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--url", default=None, help="OpenLineage endpoint base URL [default: the spec's platform.lineage.url].")
@click.option("--endpoint", default="api/v1/lineage", show_default=True, help="Path of the lineage API.")
@click.option("--file", "file", default=None, help="Append the events to this file (one JSON per line; - prints).")
def lineage_emit(paths, url, endpoint, file) -> None:
    """Send the static lineage graph as OpenLineage run events (to Marquez, or a file)."""
    from mlspec.review.openlineage import run_emit

    sys.exit(run_emit(list(paths) or ["specs"], url, endpoint, file, report=_report))
