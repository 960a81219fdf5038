"""The real app on a loopback port for the attack tests (issue 12).

`live_app` runs the app in uvicorn in a thread, configured exactly as
`usdtpay serve` configures it (api.cli.serve.uvicorn_config); `served`
starts `usdtpay serve` itself as a subprocess and keeps its log in a file.
Requests are real TCP from 127.0.0.1, so where a test plays a reverse
proxy it sends the headers nginx sends (NGINX_HEADERS).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar

from api.cli.serve import uvicorn_config
from api.http.app import create_app
from api.http.state import AppState
from engine.config import OrderSettings, Settings
from scripts.ports import free_port, owns_listener
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.paths import ROOT


def nginx_headers(client: str, sent_xff: str = "") -> dict[str, str]:
    """What nginx adds with the README's `location` block: the client's own
    X-Forwarded-For (if it sent one) with the client address appended
    ($proxy_add_x_forwarded_for), X-Real-IP and X-Forwarded-Proto."""
    forwarded_for = f"{sent_xff}, {client}" if sent_xff else client
    return {"X-Forwarded-For": forwarded_for, "X-Real-IP": client, "X-Forwarded-Proto": "https"}


@dataclass
class LiveApp:
    base_url: str
    app: Litestar
    db: Db

    @property
    def state(self) -> AppState:
        value: AppState = self.app.state.app_state
        return value

    def client(self, timeout: float = 10) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=timeout)


def free_loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def _in_thread(server: uvicorn.Server, sock: socket.socket) -> Iterator[None]:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start; see the log above")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def settings_for(db: Db, base_url: str = "http://127.0.0.1:8000", **overrides: Any) -> Settings:
    return Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        orders=OrderSettings(public_base_url=base_url),
        **overrides,
    )


@asynccontextmanager
async def live_app(db: Db, *, seed: bool = True, **overrides: Any) -> AsyncIterator[LiveApp]:
    """The app on 127.0.0.1:<free port> with merchant 10001, two TRON
    wallets and one Ethereum wallet (seed=False: a database seeded before);
    `overrides` are Settings fields."""
    if seed:
        await make_merchant(db)
        await make_wallets(db, "tron", 2)
        await make_wallets(db, "eth", 1)
    sock = free_loopback_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings_for(db, base_url, **overrides))
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=0))
    with _in_thread(server, sock):
        yield LiveApp(base_url, app, db)


@dataclass
class Served:
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class _PortTaken(Exception):
    """Someone else bound the port between choosing it and the child's bind."""


@contextmanager
def served(db: Db, log_path: Path, **env: str) -> Iterator[Served]:
    """`usdtpay serve` in its own process on a free loopback port, stdout and
    stderr into `log_path`; stopped (SIGTERM, then SIGKILL) on exit. A port
    taken before the child could bind it is replaced by another."""
    for _ in range(3):
        handle = _start(db, log_path, env)
        try:
            _wait_healthy(handle)
        except _PortTaken:
            _stop(handle)
            continue
        except BaseException:
            _stop(handle)
            raise
        try:
            yield handle
        finally:
            _stop(handle)
        return
    raise RuntimeError(f"three free ports were taken before usdtpay serve bound one:\n{handle.log()[-4000:]}")


def _start(db: Db, log_path: Path, env: dict[str, str]) -> Served:
    port = free_port()
    environ = {
        **os.environ,
        "USDTPAY_DATABASE_URL": db.url,
        "USDTPAY_RATE_FIXED": "7.20",
        "USDTPAY_ORDERS__PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    return Served(f"http://127.0.0.1:{port}", log_path, process, port)


def _stop(handle: Served) -> None:
    handle.process.terminate()
    try:
        handle.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        handle.process.kill()
        handle.process.wait(timeout=15)


def _wait_healthy(handle: Served) -> None:
    """Until the child answers /healthz on its port; an answer from another
    process that holds the port does not count (scripts.ports)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            if f"('127.0.0.1', {handle.port}): address already in use" in handle.log():
                raise _PortTaken
            raise RuntimeError(f"usdtpay serve exited early:\n{handle.log()[-4000:]}")
        try:
            answered = httpx.get(handle.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            answered = False
        if answered and owns_listener(handle.process.pid, handle.port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"usdtpay serve did not answer /healthz:\n{handle.log()[-4000:]}")
