"""`mlspec run SPEC --local`: compile a spec and run the generated system on this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlspec.cli.output import say
from mlspec.errors import ExitCode

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
def command(spec, local, model, workdir, report) -> None:
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
    s3:// locations become folders, MLflow tracks into a SQLite file. A failed stage names the
    generated file and the spec line, and the command exits 4; the later stages are skipped.
    """
    from mlspec.local.tools import missing_tools, missing_tools_message

    if not local:
        raise click.UsageError("only --local runs exist so far: mlspec run SPEC --local")
    missing = missing_tools()
    if missing:
        say(f"error: {missing_tools_message(missing)}")
        sys.exit(ExitCode.USAGE)

    from mlspec.compiler.session import load_unit
    from mlspec.cli.output import print_diagnostics

    spec_file = Path(spec)
    if not spec_file.is_file():
        raise click.BadParameter(f"no spec file at {spec}", param_hint="SPEC")
    unit = load_unit(spec_file)
    if not unit.ok:
        print_diagnostics([unit], "human")
        sys.exit(ExitCode.SPEC_ERRORS)
    folder = Path(workdir) if workdir else Path(".mlspec") / "run" / spec_file.stem
    from mlspec.local.processes import Terminated, handle_sigterm

    # SIGTERM (a cancelled CI job, `timeout`) ends the run as Ctrl-C does: every `finally` runs,
    # and every process group the run started (Airflow, its kfp steps, the scoring server) ends.
    try:
        with handle_sigterm():
            _run(spec_file, folder, model, report)
    except Terminated:
        say("terminated (SIGTERM): the run's processes were ended")
        sys.exit(128 + 15)


def _run(spec_file: Path, folder: Path, model, report) -> None:
    from mlspec.local.run import start_local_run
    from mlspec.local.stages import run_stages

    say(f"preparing {folder}: spec copy, generated files, sample data, Airflow home")
    run = start_local_run(spec_file, folder, model)
    for note in run.ws.notes:
        say(f"  {note}")

    from mlspec.cli.progress import ProgressLine

    bar = ProgressLine()
    run.progress = bar.update

    def started(stages):
        bar.restart()
        say(f"running {', '.join(stages)} ...")

    results = []
    for result in run_stages(run, started=started):
        bar.clear()
        results.append(result)
        say(f"{result.stage:<{WIDTH}} {result.status:<7} {result.seconds:7.1f}s  {result.detail}")
        if result.status == "failed":
            where = result.file and str(run.ws.system_dir / result.file)
            say(f"{'':<{WIDTH}} generated file: {where}" + (f"  (from {result.spec_line})" if result.spec_line else ""))
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps({"stages": [r.as_json() for r in results]}, indent=2) + "\n",
                                encoding="utf-8")
    if any(r.status == "failed" for r in results):
        sys.exit(ExitCode.EXTERNAL)
