"""The target interface: a target turns the IR into `Artifact`s and never touches the disk.

A target is a subclass of `Target` plus a registry entry (sqlglot's dialects): what
differs between targets lives in the subclass, never in `if target == ...` in shared code.
A target that cannot express part of a spec reports it with `unsupported`, it does not
emit something wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlspec.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from mlspec.ir.model import IRProject


@dataclass(frozen=True)
class Artifact:
    """One generated file. `path` is relative to the system's output folder, POSIX style."""

    path: str
    content: str
    target: str
    # How the writer marks the file as generated: a comment in the file's own syntax, or
    # "embedded" when the target put the header into the content itself (JSON formats).
    header: str = "hash"  # "hash" (#), "html" (<!-- -->), "embedded"
    deployable: bool = False  # part of what `mlspec publish` copies to the deployments repo
    environment: str | None = None  # set on per-environment artifacts (k8s/<env>/, argocd/<env>/)


class Target:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, previous_dir: Path | None = None) -> None:
        self.diagnostics: list[Diagnostic] = []
        # The system's output folder as it is before this compile, for targets that can reuse
        # expensive results (the kfp IR); targets read it, never write it.
        self.previous_dir = previous_dir

    def previous_file(self, path: str) -> str | None:
        if self.previous_dir is None:
            return None
        try:
            return (self.previous_dir / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def generate(self, project: IRProject) -> list[Artifact]:
        raise NotImplementedError

    def unsupported(self, message: str, file: str = "", path: tuple = ()) -> None:
        """Record something this target cannot express, as an error diagnostic."""
        self.diagnostics.append(Diagnostic("E701", f"{self.name}: {message}", file, None, path,
                                           severity=Severity.ERROR))

    def warn(self, message: str, file: str = "", path: tuple = ()) -> None:
        self.diagnostics.append(Diagnostic("W701", f"{self.name}: {message}", file, None, path,
                                           severity=Severity.WARNING))

    def artifact(self, path: str, content: str, **kwargs) -> Artifact:
        return Artifact(path=path, content=content, target=self.name, **kwargs)
