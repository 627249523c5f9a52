"""A throwaway PostgreSQL server for tests: `initdb` into a temporary folder, started on a
free loopback port, trust authentication on 127.0.0.1 only, stopped on exit.

PostgreSQL refuses to run as root; when the tests run as root, the server runs as the
`postgres` (or `nobody`) user via `runuser`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.net import free_port

SEARCH = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def find_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    for folder in SEARCH:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


@dataclass
class Postgres:
    port: int
    user: str
    database: str = "postgres"

    @property
    def uri(self) -> str:
        """An Airflow connection URI (postgres connection type)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def connect(self):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database)


@contextlib.contextmanager
def postgres_server():
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl, postgres) found")
    run_as: list[str] = []
    owner = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        owner = next(u for u in ("postgres", "nobody") if _user_exists(u))
        run_as = ["runuser", "-u", owner, "--"]
    base = Path(tempfile.mkdtemp(prefix="mlspec-pg-"))
    data = base / "data"
    if run_as:
        entry = pwd.getpwnam(owner)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    port = free_port()
    try:
        subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-U", owner, "--auth=trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, env=env, cwd=base)
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -c fsync=off"
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                        str(base / "server.log"), "-w", "-t", "60", "start"], check=True, capture_output=True,
                       env=env, cwd=base)
        try:
            yield Postgres(port=port, user=owner)
        finally:
            subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, env=env, cwd=base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
