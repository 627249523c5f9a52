"""Write constraints/image.txt and constraints/image-build.txt: the hashed requirements the
Dockerfile installs with `pip install --require-hashes` (run by `make image-requirements`).

image.txt is mlspec's runtime dependencies and everything they need (the pyproject's
`dependencies`, followed through the installed packages' metadata) at the versions
constraints/test.txt pins; image-build.txt is what builds mlspec itself (hatchling) and any
dependency published only as a source archive (setuptools, wheel). Each pin lists the
sha256 of every file pip may pick for the image (CPython 3.11 wheels for Linux x86_64 and
aarch64, or the source archive when there is no wheel): the files are downloaded from the
package index with `pip download --no-deps` and hashed, as `pip hash` does.

Run it in the test environment (`make constraints` first when the pins changed).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints/test.txt"
# The build backend of pyproject.toml and its dependencies; setuptools and wheel build the
# dependencies that publish no wheel. Pinned here (they are not in the test environment).
BUILD = ["hatchling==1.33.0", "packaging==26.4", "pathspec==1.1.1", "pluggy==1.7.0", "tomlkit==0.15.2",
         "trove-classifiers==2026.9.21.13", "setuptools==80.9.0", "wheel==0.45.1"]
# The image: CPython 3.11 on Debian (glibc), either architecture.
MARKERS = {"python_version": "3.11", "python_full_version": "3.11.13", "sys_platform": "linux",
           "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
ARCHES = ("x86_64", "aarch64")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure() -> dict[str, str]:
    """name -> version of every package mlspec's runtime needs, as installed here."""
    pins = {normalize(line.split("==")[0]): line.split("==")[1].strip()
            for line in CONSTRAINTS.read_text().splitlines() if "==" in line and not line.startswith("#")}
    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found: dict[str, set[str]] = {}
    stack = [(Requirement(root).name, frozenset(Requirement(root).extras)) for root in roots]
    while stack:
        name, extras = stack.pop()
        key = normalize(name)
        if key in found and extras <= found[key]:
            continue
        found[key] = found.get(key, set()) | set(extras)
        for line in metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({**MARKERS, "extra": extra}) for extra in ("", *extras))
            if wanted:
                stack.append((requirement.name, frozenset(requirement.extras)))
    missing = sorted(set(found) - set(pins))
    if missing:
        sys.exit(f"not pinned in {CONSTRAINTS}: {', '.join(missing)}")
    return {key: pins[key] for key in sorted(found)}


def download(pin: str, folder: Path) -> list[Path]:
    """The files of `pin` pip may install in the image: its wheels for each architecture,
    else its source archive."""
    files: set[Path] = set()
    for arch in ARCHES:
        target = folder / arch
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
             "--dest", str(target), "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
             "--abi", "cp311", "--abi", "abi3", "--abi", "none",
             *(arg for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_28") for arg in
               ("--platform", f"{tag}_{arch}")), pin], capture_output=True, text=True)
        if result.returncode == 0:
            files |= {p for p in target.glob("*") if _is(p, pin)}
    if not files:
        target = folder / "sdist"
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
                        "--dest", str(target), "--no-binary=:all:", pin], check=True)
        files = {p for p in target.glob("*") if _is(p, pin)}
    return sorted(files)


def _is(path: Path, pin: str) -> bool:
    name, version = pin.split("==")
    stem = normalize(path.name.split(f"-{version}")[0]) if f"-{version}" in path.name else ""
    return stem == normalize(name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, pins: list[str], folder: Path, title: str) -> list[str]:
    """Write `pins` with their hashes; return the pins that only have a source archive."""
    lines = [f"# {title}", "# Generated by constraints/pin_image.py (make image-requirements); do not edit."]
    sdists = []
    for pin in pins:
        files = download(pin, folder)
        if all(f.suffix != ".whl" for f in files):
            sdists.append(pin)
        hashes = sorted({sha256(f) for f in files})
        lines.append(" \\\n    ".join([pin, *(f"--hash=sha256:{digest}" for digest in hashes)]))
        print(f"{pin}: {len(files)} file(s)", file=sys.stderr)
    path.write_text("\n".join(lines) + "\n")
    return sdists


def main(which: list[str]) -> None:
    """`which`: `runtime`, `build` or both (the default)."""
    which = which or ["runtime", "build"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "runtime" in which:
            runtime = [f"{name}=={version}" for name, version in runtime_closure().items()]
            write(ROOT / "constraints/image.txt", runtime, folder,
                  "mlspec's runtime dependencies for the image (pip install --require-hashes --no-deps).")
        if "build" in which:
            write(ROOT / "constraints/image-build.txt", BUILD, folder,
                  "What builds mlspec and the dependencies published only as source, for the image.")


if __name__ == "__main__":
    main(sys.argv[1:])
