"""`mlspec rollout decide`: the canary's analysis result -> promote or roll back, in git."""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli import options


@click.group("rollout")
def command() -> None:
    """Act on canary rollouts."""


@command.command("decide")
@click.argument("model")
@options.environment(required=True, help="Environment whose canary is decided.")
@click.option("--spec", default=None, type=click.Path(), help="Spec file [default: the one under ./specs that"
              " defines MODEL].")
@click.option("--analysis", "analysis", default=None, type=click.Path(),
              help="Read the analysis from this file (the AnalysisRun or Iter8 Experiment as `kubectl get ... -o"
                   " json` prints it) instead of the cluster.")
@options.publishing()
@options.commit
@options.push_spec
@options.diagnostics_format
def decide(model, env, spec, analysis, out, repo, branch, push, commit, push_spec, fmt) -> None:
    """Promote the canary when its analysis succeeded, roll it back when it failed, and leave
    it running otherwise (exit 0 in all three cases, saying which). The analysis is the
    AnalysisRun (or Iter8 Experiment) generated for MODEL in ENV, read through the
    Kubernetes API (in-cluster config, else the kubeconfig) or from --analysis. Edits the
    spec, recompiles, commits with --commit (and pushes that commit with --push-spec) and
    publishes with --repo."""
    from mlspec.cli.editing import run_spec_edit
    from mlspec.cli.output import say
    from mlspec.errors import UsageError
    from mlspec.gitops import decide as decisions

    if push_spec and not commit:
        raise UsageError("--push-spec pushes the spec commit: use it with --commit")

    def plan(unit):
        env_ir, model_ir = decisions.find_target(unit, model, env)
        if analysis is not None:
            obj, source, from_cluster = decisions.load_analysis_file(analysis), analysis, False
        else:
            kind, name = decisions.expected_analysis(env_ir, model_ir)
            say(f"reading {kind.kind} {env_ir.namespace}/{name} from the cluster")
            obj, source, from_cluster = decisions.read_from_cluster(kind, env_ir.namespace, name), "the cluster", True
        decision = decisions.decide(unit, model, env, obj, source, from_cluster)
        if decision.promotion is None:
            say(f"no change: {decision.message}")
            return None
        say(decision.message)
        return decision.promotion

    run_spec_edit("rollout decide", model, spec, Path(out), repo, branch, push, fmt, plan, commit=commit,
                  push_spec=push_spec)
