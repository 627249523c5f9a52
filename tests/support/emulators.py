"""Object-store emulators on loopback for the gs:// and abfs:// tests, each started on a free
port in a subprocess and stopped on exit: gcp-storage-emulator (PyPI, the `test` extra) for
Google Cloud Storage's JSON API, Azurite (npm, pinned in tests/support/azurite/package.json)
for Azure Blob Storage. No mocks: the generated tasks talk to them through gcsfs, adlfs, dvc-gs
and dvc-azure as they would to the real services.

A missing emulator skips a test outside CI with the command that installs it; under CI=true
it fails instead (.ci/run installs both)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.net import free_port

AZURITE_DIR = Path(__file__).parent / "azurite"
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (documented by Microsoft, not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def missing(what: str, install: str):
    """Skip (outside CI) or fail (CI=true) a test whose emulator is not installed."""
    message = f"{what} is not installed: {install}"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)


def _wait(process: subprocess.Popen, url: str, name: str, ok=lambda status: True):
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError as error:  # answering at all is up
            if ok(error.code):
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start on {url}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class GcsServer:
    endpoint: str

    def fs(self):
        from gcsfs.core import GCSFileSystem  # the JSON API client (see mlspec_runtime.cloud_fs)

        return GCSFileSystem(token="anon", endpoint_url=self.endpoint, skip_instance_cache=True)


@contextlib.contextmanager
def gcs_emulator():
    command = shutil.which("gcp-storage-emulator", path=os.path.dirname(sys.executable)) \
        or shutil.which("gcp-storage-emulator")
    if command is None:
        missing("gcp-storage-emulator", "pip install -c constraints/test.txt gcp-storage-emulator (the test extra)")
    port = free_port()
    process = subprocess.Popen([command, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
                                "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(process, endpoint + "/storage/v1/b", "gcp-storage-emulator")
        yield GcsServer(endpoint)
    finally:
        _stop(process)


@dataclass
class AzuriteServer:
    blob_endpoint: str  # http://127.0.0.1:<port>/devstoreaccount1

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint={self.blob_endpoint};")

    def fs(self):
        import adlfs

        return adlfs.AzureBlobFileSystem(connection_string=self.connection_string, skip_instance_cache=True)


@contextlib.contextmanager
def azurite(workdir: Path):
    if not AZURITE_BIN.exists():
        missing("Azurite", f"npm ci --prefix {AZURITE_DIR} (needs node and npm)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                                "--skipApiVersionCheck", "--silent", "--location", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(process, f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list", "Azurite", ok=lambda status: True)
        yield AzuriteServer(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    finally:
        _stop(process)
