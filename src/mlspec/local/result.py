"""One stage's result in `mlspec run --local`, and the wording its details share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Mapping


class StageStatus(StrEnum):
    """How a stage ended; its value is the word the output and the --report file show."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: StageStatus
    seconds: float
    detail: str
    file: str | None = None  # the generated file that failed, relative to the system folder
    spec_line: str | None = None  # `spec.yaml:41`, the spec line it came from

    def __post_init__(self) -> None:
        if not isinstance(self.status, StageStatus):
            raise TypeError(f"stage {self.stage}: status {self.status!r} is not a StageStatus")

    @property
    def failed(self) -> bool:
        return self.status is StageStatus.FAILED

    def as_json(self) -> dict:
        out = {"stage": self.stage, "status": self.status.value, "seconds": round(self.seconds, 2),
               "detail": self.detail}
        if self.file:
            out["file"] = self.file
        if self.spec_line:
            out["spec_line"] = self.spec_line
        return out


@dataclass(frozen=True)
class Step:
    """What one step of `run_stages` hands back: the result of each stage it ran, and what the
    next step starts from (`handover`: a loop_stages.Promoted, Served or Drifted, or None)."""

    results: Mapping[str, StageResult]
    handover: object = None


def listed(names: list[str]) -> str:
    return ", ".join(dict.fromkeys(names))


_ERROR_LINE = re.compile(r"(\w+(Error|Exception)): (.+)$")


def error_line(result, log: Path) -> str:
    """The last error message in a run's output, one line."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else result.stdout + result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    rows = text.splitlines()
    lines = [(i, m) for i, m in ((i, _ERROR_LINE.search(line)) for i, line in enumerate(rows)) if m]
    if not lines:
        return "see the log"
    # The most specific message is usually the first raised (later ones wrap it).
    preferred = [(i, m) for i, m in lines if m.group(1) not in ("AirflowFailException", "SystemExit")] or lines
    index, match = preferred[0]
    message = f"{match.group(1)}: {match.group(3)}"
    # a multi-line message's items (a failed suite lists its failed expectations as `  - ...`)
    items = [row.strip() for row in rows[index + 1:index + 6] if row.lstrip().startswith("- ")]
    return " ".join([message, *items])[:1000]
