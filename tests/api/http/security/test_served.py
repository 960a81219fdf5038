"""The `served` helper starts the real `usdtpay serve`; a neighbour that
takes its port first (another test worker's server) must not be mistaken
for it. Once, CI's console test got a 404 from such a neighbour."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from tests.api.http.security import support
from tests.dbharness import Db


class _AlwaysHealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def neighbour() -> Iterator[int]:
    """A server answering 200 to everything, on the port served() picks first."""
    server = HTTPServer(("127.0.0.1", 0), _AlwaysHealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_a_port_taken_by_a_neighbour_is_replaced(
    db: Db, tmp_path: Path, neighbour: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([neighbour])
    real = support.free_port
    monkeypatch.setattr(support, "free_port", lambda: next(ports, None) or real())
    with support.served(db, tmp_path / "serve.log") as handle:
        answer = httpx.get(handle.base_url + "/healthz")
    assert handle.port != neighbour
    assert answer.json() == {"ok": True}  # usdtpay's answer, not the neighbour's "ok"
