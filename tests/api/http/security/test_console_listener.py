"""Issue 18: with USDTPAY_ADMIN__BIND the console is served on a listener
of its own and not on the public API's.

`usdtpay serve` itself, with an account (so the console is on): whoever
reaches the API's port (the internet, through the proxy) gets 404 for every
console URL, sign-in included; the console's port answers the console
and none of the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.cli.serve import STARTUP_FAILURE
from scripts.ports import free_port, owns_listener
from tests.api.http.security.console_login import CONSOLE_ENV, add_account
from tests.api.http.security.support import Served, served
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.paths import ROOT

pytestmark = pytest.mark.timeout(120)


async def test_the_console_listens_apart_from_the_api(db: Db, tmp_path: Path) -> None:
    await make_merchant(db)
    await add_account(db, "alice")
    with _with_console(db, tmp_path / "serve.log") as (api, console_port):
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as public:
            on_api = [
                (await public.get(path)).status_code
                for path in ("/admin/login", "/admin/", "/admin/static/htmx.min.js")
            ]
            posted = await public.post(
                "/admin/login", data={"username": "alice", "password": "x", "code": "1"}
            )
            api_up = (await public.get("/healthz")).status_code
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{console_port}", timeout=30) as console:
            login = await console.get("/admin/login")
            not_api = (await console.get("/api/pay/query")).status_code
    assert on_api == [404, 404, 404] and posted.status_code == 404 and api_up == 200
    assert login.status_code == 200 and 'name="csrf"' in login.text
    assert not_api == 404


async def test_a_console_that_cannot_listen_stops_the_api_with_what_to_do(db: Db, tmp_path: Path) -> None:
    """Its port taken: `usdtpay serve` exits (uvicorn's start-up failure
    code) with one line naming the setting, not a traceback, and does not
    go on serving the API without the console it was asked for."""
    await make_merchant(db)
    await add_account(db, "alice")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {**os.environ, **CONSOLE_ENV, "USDTPAY_DATABASE_URL": db.url, "USDTPAY_ADMIN__BIND": bind}
        command = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == STARTUP_FAILURE, done.stderr[-2000:]
    said = done.stdout + done.stderr
    assert f"could not listen on USDTPAY_ADMIN__BIND={bind}: free that port or set another host:port" in said
    assert "Traceback" not in said


@contextmanager
def _with_console(db: Db, log_path: Path) -> Iterator[tuple[Served, int]]:
    """`usdtpay serve` with the console on a port of its own; that port is
    picked again if another process took it before the console bound it."""
    for attempt in range(3):
        console_port = free_port()
        env = {**CONSOLE_ENV, "USDTPAY_ADMIN__BIND": f"127.0.0.1:{console_port}"}
        try:
            with served(db, log_path, **env) as api:
                if owns_listener(api.process.pid, console_port) or _listens_soon(
                    api.process.pid, console_port
                ):
                    yield api, console_port
                    return
        except RuntimeError:  # exited: its console's port was taken (the log says so)
            if f"USDTPAY_ADMIN__BIND=127.0.0.1:{console_port}" not in log_path.read_text() or attempt == 2:
                raise
    raise RuntimeError(f"the console did not listen on a free port:\n{log_path.read_text()[-4000:]}")


def _listens_soon(pid: int, port: int) -> bool:
    """Whether process `pid` listens on `port` within 5 s (the console
    starts beside the API, so it may bind a moment after it)."""
    for _ in range(50):
        if owns_listener(pid, port):
            return True
        time.sleep(0.1)
    return False
