"""`mlspec run SPEC --local`: compile a spec and run the generated system on this machine."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from mlspec.cli.output import say
from mlspec.errors import ExitCode, MlspecError, SpecError

WIDTH = 11  # the longest stage name, and a space


@click.command("run")
@click.argument("spec", type=click.Path())
@click.option("--local", "local", is_flag=True, help="Run on this machine with the real tools (the only mode"
              " so far; needs the `local` extra: pip install 'mlspec[local]').")
@click.option("--model", default=None, help="Train only this model [default: every model of the spec].")
@click.option("--workdir", default=None, type=click.Path(), help="Work folder: the spec copy, generated files,"
              " sample data (files, DuckDB databases), the object store as folders, Airflow, MLflow; used only"
              " when new, empty or made by an earlier run [default: .mlspec/run/<spec name>].")
@click.option("--report", default=None, type=click.Path(), help="Write the stages' results as JSON to this file.")
@click.option("--data", "data", default=None, type=click.Path(), help="Your own data instead of the sample: a"
              " folder holding <dataset>.parquet or <dataset>.csv per dataset, or <connection>.sql (CREATE TABLE and"
              " INSERT statements) per connection of the SQL sources; checked against the spec's columns and"
              " expectations before anything runs. Datasets without a file keep the sample.")
def command(spec, local, model, workdir, report, data) -> None:
    """Compile SPEC and run the generated system, stage by stage, with the real tools:

    \b
      ingest, validate, version  the ingestion DAGs (airflow dags test; GX; DVC)
      materialize                the Feast DAG (feast apply, online store)
      train, register            the training DAG, its pipeline on kfp's local runner;
                                 the model version and alias checked in MLflow
      promote                    `mlspec promote --commit --repo` in a local spec repository,
                                 published to a local deployments repository
      serve                      the published InferenceService's model served by MLflow's
                                 scoring server; traffic logged as KServe's logger writes it
      drift                      the drift DAG on undrifted, then drifted traffic
      retrain                    the training run the drift DAG queued; a new version registered

    The run works in a copy of the spec under the work folder, on sample data that passes the
    spec's own expectations: a file source reads a file of its declared format; a SQL source
    keeps its query, run through its Airflow connection on a DuckDB file holding every table
    the query reads, filled so that it returns the sample on the run's date.
    With --data DIR, the datasets DIR holds a file for (or a dump of their connection) are
    ingested from it instead, once it passes the spec's columns and expectations.
    s3:// locations become folders, MLflow tracks into a SQLite file. A failed stage names the
    generated file and the spec line, and the command exits 4; the later stages are skipped.

    OpenLineage is on: the DAG runs' events (Airflow's provider), the pipeline steps', the
    promotion's and the served traffic's go to lineage/events.jsonl of the work folder (the
    report's `lineage`); `mlspec impact table:NAME --events FILE` reads them.
    """
    with _report_on_exit(report) as outcome:
        _command(spec, local, model, workdir, outcome, data)


def _command(spec, local, model, workdir, outcome: "_Outcome", data=None) -> None:
    from mlspec.local.tools import missing_tools, missing_tools_message

    if not local:
        raise click.UsageError("only --local runs exist so far: mlspec run SPEC --local")
    missing = missing_tools()
    if missing:
        outcome.reason = missing_tools_message(missing)
        say(f"error: {outcome.reason}")
        sys.exit(ExitCode.USAGE)

    from mlspec.compiler.session import load_unit
    from mlspec.cli.output import print_diagnostics

    spec_file = Path(spec)
    if not spec_file.is_file():
        raise click.BadParameter(f"no spec file at {spec}", param_hint="SPEC")
    unit = load_unit(spec_file)
    outcome.diagnostics = unit.diagnostics
    if not unit.ok:
        print_diagnostics([unit], "human")
        outcome.reason = "the spec has errors (see diagnostics): nothing was run"
        sys.exit(ExitCode.SPEC_ERRORS)
    own = _user_data(Path(data), unit) if data is not None else None
    folder = Path(workdir) if workdir else Path(".mlspec") / "run" / spec_file.stem
    from mlspec.local.processes import Terminated, handle_sigterm

    try:
        with handle_sigterm():
            _run(spec_file, folder, model, outcome, unit, own)
    except Terminated:
        outcome.reason = "terminated (SIGTERM): the run's processes were ended"
        say(outcome.reason)
        sys.exit(128 + 15)


def _user_data(folder: Path, unit):
    """The data of --data, checked against the spec before anything is written or run (a
    DataError, exit 1, lists what does not fit, at its rows and the spec's rules)."""
    from mlspec.local.user_data import read_user_data

    positions = unit.source.positions

    def spec_place(path: tuple) -> str:
        _, span = positions.nearest(path, prefer_key=True)  # the key stating the rule
        return f"{unit.display}:{span.line}:{span.col}" if span is not None else unit.display

    say(f"checking the data in {folder} against the spec")
    own = read_user_data(folder, unit.project.base, spec_place)
    for note in own.notes:
        say(f"  {note}")
    return own


class _Outcome:
    """What the report says besides the stages: why the run stopped where it did."""

    def __init__(self) -> None:
        self.stages: list = []
        self.diagnostics: list = []
        self.reason: str | None = None
        self.lineage: dict | None = None  # where the run's OpenLineage events are (local.lineage_events)


@contextlib.contextmanager
def _report_on_exit(report: str | None):
    """Every way out of `mlspec run` writes the --report file: a run that passed, a stage that
    failed, a spec refused before any stage, a missing tool, SIGTERM, and a bug (exit 3, which
    the report then calls a bug). The file is written whole (replaced, never half-written)."""
    outcome = _Outcome()
    code: int = ExitCode.OK
    try:
        yield outcome
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        raise
    except click.ClickException as error:
        code, outcome.reason = error.exit_code, outcome.reason or error.format_message()
        raise
    except MlspecError as error:
        code, outcome.reason = error.exit_code, outcome.reason or str(error)
        if isinstance(error, SpecError):
            outcome.diagnostics = [d for unit in error.units for d in unit.diagnostics] or outcome.diagnostics
        raise
    except BaseException as error:
        code = ExitCode.INTERNAL
        outcome.reason = f"internal error (a bug in mlspec): {type(error).__name__}: {error}"
        raise
    finally:
        if report:
            _write_report(Path(report), code, outcome)


def _write_report(path: Path, code: int, outcome: _Outcome) -> None:
    from mlspec.diagnostics.render import diagnostic_to_dict
    from mlspec.fsutil import write_text_atomic

    failed = any(r.failed for r in outcome.stages)
    status = "passed" if code == 0 else ("failed" if failed else "stopped")
    document = {"status": status, "exitCode": int(code), "reason": outcome.reason,
                "stages": [r.as_json() for r in outcome.stages],
                "diagnostics": [diagnostic_to_dict(d) for d in outcome.diagnostics]}
    if outcome.lineage:
        document["lineage"] = outcome.lineage
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(document, indent=2) + "\n")


def local_deployer():
    """mlspec's own publish and promote (gitops/), for the local run's promote stage: local/
    may not import gitops/, its sibling, so the command wires them."""
    from mlspec.gitops.spec_edit import promote_version
    from mlspec.gitops.publish import publish_specs
    from mlspec.local.repos import Deployer

    def publish(files, out_root, repo, log):
        return publish_specs(files, out_root, repo, log=log)

    def promote(spec_file, model, env, version, storage_uri, out_root, repo, log):
        return promote_version(spec_file, model, env, version, storage_uri, out_root, repo, commit=True, log=log)

    return Deployer(publish=publish, promote=promote)


def _run(spec_file: Path, folder: Path, model, outcome: _Outcome, unit=None, own=None) -> None:
    from mlspec.local.run import start_local_run
    from mlspec.local.stages import run_stages

    say(f"preparing {folder}: spec copy, generated files, sample data, Airflow home")
    run = start_local_run(spec_file, folder, model, deployer=local_deployer(), unit=unit, data=own)
    for note in run.ws.notes:
        say(f"  {note}")

    from dataclasses import replace

    from mlspec.cli.progress import ProgressLine

    bar = ProgressLine()
    run = replace(run, progress=bar.update)

    def started(stages):
        bar.restart()
        say(f"running {', '.join(stages)} ...")

    from mlspec.local.lineage_events import summary

    results = outcome.stages
    for result in run_stages(run, started=started):
        bar.clear()
        results.append(result)
        outcome.lineage = summary(run)
        say(f"{result.stage:<{WIDTH}} {result.status.value:<7} {result.seconds:7.1f}s  {result.detail}")
        if result.failed:
            where = result.file and str(run.ws.system_dir / result.file)
            say(f"{'':<{WIDTH}} generated file: {where}" + (f"  (from {result.spec_line})" if result.spec_line else ""))
    if outcome.lineage:
        say(f"OpenLineage events: {outcome.lineage['events']}")
    failed = [r for r in results if r.failed]
    if failed:
        outcome.reason = f"stage {failed[0].stage} failed: {failed[0].detail}"
        sys.exit(ExitCode.EXTERNAL)
