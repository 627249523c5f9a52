"""`mlspec lineage emit` sends no ambient credentials to a URL a spec (and so a pull request)
chose: a ~/.netrc entry for that host is not attached (requests would attach it)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import run_mlspec


def test_a_netrc_entry_for_the_lineage_host_is_not_sent(tmp_path):
    seen: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine 127.0.0.1 login ci-bot password s3cr3t-token\n")
    (home / ".netrc").chmod(0o600)
    try:
        result = run_mlspec("lineage", "emit", "specs/customer-churn.yaml", "--url",
                            f"http://127.0.0.1:{server.server_address[1]}", env={"HOME": str(home)})
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert seen and seen == [None] * len(seen)
