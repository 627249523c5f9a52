"""Spec files a pull request controls: links and special files named as specs, and file
names built to break the output. mlspec reads only regular files, follows no link, and
prints every file name escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SPECS, run_mlspec

SECRET = "SECRETTOKEN"


def _validate(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlspec", "validate", *args], cwd=project, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("fmt", ["human", "json", "github"])
def test_a_spec_that_links_to_a_credentials_file_is_refused_unread(project, outside, fmt):
    """Attack: commit `specs/churn.yaml -> ~/.git-credentials`; the YAML error diagnostic
    quotes the offending line, so CI's log prints the token."""
    (project / "specs/churn.yaml").symlink_to(outside / "credentials")

    result = run_mlspec("validate", "--format", fmt, "specs/churn.yaml", cwd=project)

    assert result.returncode == 1, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "E012" in result.stdout + result.stderr and "symbolic link" in result.stdout + result.stderr


def test_a_spec_that_links_to_the_process_environment_is_refused_unread(project, monkeypatch):
    """Attack: `specs/x.yaml -> /proc/self/environ` prints the CI job's environment (its
    tokens) in the diagnostics of `validate` and `compile`."""
    (project / "specs/x.yaml").symlink_to("/proc/self/environ")
    env = {"CI_JOB_TOKEN": "glcbt-" + SECRET}

    for command in ("validate", "compile"):
        result = run_mlspec(command, "specs/x.yaml", cwd=project, env=env)
        assert result.returncode == 1, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "error[E012]: the spec is a symbolic link" in result.stderr


def test_a_spec_that_links_to_dev_zero_does_not_exhaust_memory(project):
    """Attack: `specs/x.yaml -> /dev/zero`: reading it never ends (the size check saw a
    character device of size 0). Refused at once instead."""
    (project / "specs/x.yaml").symlink_to("/dev/zero")

    result = _validate(project, "specs/x.yaml", timeout=60)

    assert result.returncode == 1 and "E012" in result.stderr


def test_a_fifo_named_as_a_spec_does_not_hang(project):
    """Attack: a FIFO (named pipe) as a spec file: opening it blocks until a writer comes,
    so `mlspec compile` hangs (and holds its lock). Refused without blocking."""
    os.mkfifo(project / "specs/x.yaml")

    result = _validate(project, "specs/x.yaml", timeout=60)
    assert result.returncode == 1 and "error[E012]: the spec is a FIFO" in result.stderr
    compiled = subprocess.run([sys.executable, "-m", "mlspec", "compile", "specs/x.yaml"], cwd=project,
                              capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 1 and "E012" in compiled.stderr


def test_links_and_fifos_inside_a_specs_folder_are_left_out(project, outside):
    """Attack: the same links and FIFOs inside the folder CI compiles (`mlspec compile
    specs`): they are not specs mlspec wrote or reads, and are skipped unread."""
    (project / "specs/creds.yaml").symlink_to(outside / "credentials")
    (project / "specs/environ.yaml").symlink_to("/proc/self/environ")
    (project / "specs/zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(project / "specs/pipe.yaml")
    (project / "specs/linked-folder").symlink_to(outside)

    result = _validate(project, "specs", timeout=120)

    assert result.returncode == 0, result.stderr
    # Nothing said about the links (the example specs' own warnings, W411, aside).
    assert result.stderr.strip().splitlines()[-1] == f"{len(list(SPECS.glob('*.yaml')))} specs valid"
    assert "error[" not in result.stderr and "creds" not in result.stderr and "pipe" not in result.stderr


def test_a_linked_specs_folder_on_the_command_line_is_refused(project, outside):
    """Attack: commit `specs -> /` (or any folder outside the repository): CI's `mlspec
    compile specs` would search, sniff and load YAML files anywhere on the machine."""
    (project / "elsewhere").symlink_to(outside)
    (outside / "spec.yaml").write_text((SPECS / "minimal.yaml").read_text())

    result = run_mlspec("validate", "elsewhere", cwd=project)

    assert result.returncode == 1 and "E012" in result.stderr


def test_control_characters_in_a_spec_file_name_are_escaped_in_every_format(project):
    """Attack: a spec named `x.yaml` + newline + `::error file=main.py::pwned`, or holding
    terminal escapes: printed raw, it forges a GitHub annotation or recolours the log."""
    name = "bad\n::error file=README.md::forged\x1b[2J.yaml"
    (project / "specs" / name).write_text("not: [valid\n")

    for fmt in ("human", "github", "json"):
        result = run_mlspec("validate", "--format", fmt, f"specs/{name}", cwd=project)
        assert result.returncode == 1, result.stderr
        output = result.stdout + result.stderr
        assert "\x1b" not in output
        assert not any(line.startswith("::error file=README.md") for line in output.splitlines()), output
        if fmt == "json":
            assert json.loads(result.stdout)["diagnostics"][0]["file"] == f"specs/{name}"


def test_a_spec_name_that_is_not_utf8_gets_a_diagnostic_not_a_traceback(project):
    """Attack: a file name with bytes that are not UTF-8: printing it raw raises
    UnicodeEncodeError inside the renderer (a crash instead of a diagnostic)."""
    name = os.fsdecode(b"bad-\xff\xfe.yaml")
    try:
        (project / "specs" / name).write_text("not: [valid\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")

    for fmt in ("human", "github", "json"):
        result = subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", fmt,
                                 os.fsencode(project / "specs" / name)], cwd=project, capture_output=True,
                                timeout=120, env={**os.environ, "NO_COLOR": "1"})
        assert result.returncode == 1, result.stderr
        assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr
        assert b"\\udcff" in result.stdout + result.stderr or b"\\xff" in result.stdout + result.stderr


def test_a_line_break_in_a_spec_file_name_cannot_inject_code_into_generated_dags(project):
    """Attack: a valid spec saved as `specs/x` + newline + `import os; os.system(...)` +
    newline + `#.yaml`. The path goes into the "generated by" comment of every generated
    file, so the line after the break is Python in each generated DAG, run by Airflow's
    scheduler. Refused with E013 and nothing is written."""
    name = 'x\nimport os; os.system("touch PWNED")\n#.yaml'
    (project / "specs" / name).write_text((SPECS / "minimal.yaml").read_text())

    result = run_mlspec("compile", "specs", cwd=project)

    assert result.returncode == 1
    assert "error[E013]" in result.stderr and "nothing was written" in result.stderr
    assert not (project / "generated").exists()


def test_a_spec_path_cannot_close_the_html_comment_of_a_model_card(project):
    """Attack: a spec folder named `a--><img src=x onerror=alert(document.cookie)>`: the
    path is written into the `<!-- generated by -->` comment that starts each HTML file
    (the model card), so `-->` would end the comment and the rest is live HTML."""
    folder = project / "specs" / "a--><img src=x onerror=alert(document.cookie)>"
    folder.mkdir()
    (project / "specs/customer-churn.yaml").rename(folder / "customer-churn.yaml")

    result = run_mlspec("compile", str(folder.relative_to(project) / "customer-churn.yaml"), cwd=project)

    assert result.returncode == 0, result.stderr
    pages = list((project / "generated").rglob("*.html"))
    assert pages
    for page in pages:
        first = page.read_text().splitlines()[0]
        assert first.startswith("<!-- ") and first.endswith(" -->") and first.count("-->") == 1, first


def test_terminal_escapes_in_a_spec_are_shown_escaped_under_the_caret(project):
    """Attack: a spec holding an escape sequence (OSC 52 writes the terminal's clipboard,
    others rewrite the screen). It is not valid YAML, and the diagnostic quotes the line:
    printed raw, the sequence ran in the terminal of whoever reads the log."""
    (project / "specs/x.yaml").write_bytes(b"apiVersion: mlspec/v1alpha1\nkind: MLSystem\n"
                                          b"metadata: {name: \x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07}\n")

    result = run_mlspec("validate", "specs/x.yaml", cwd=project)

    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "{name: \\x1b]52;c;" in result.stderr
