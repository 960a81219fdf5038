"""Issue 18: with USDTPAY_ADMIN__BIND the console is served on a listener
of its own and not on the public API's.

`usdtpay serve` itself, with an account (so the console is on): whoever
reaches the API's port (the internet, through the proxy) gets 404 for every
console URL, sign-in included; the console's port answers the console
and none of the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.http.security.console_login import CONSOLE_ENV, add_account
from tests.api.http.security.support import free_loopback_socket, served
from tests.dbharness import Db
from tests.factories import make_merchant

pytestmark = pytest.mark.timeout(120)


async def test_the_console_listens_apart_from_the_api(db: Db, tmp_path: Path) -> None:
    await make_merchant(db)
    await add_account(db, "alice")
    sock = free_loopback_socket()
    console_port = sock.getsockname()[1]
    sock.close()
    env = {**CONSOLE_ENV, "USDTPAY_ADMIN__BIND": f"127.0.0.1:{console_port}"}
    with served(db, tmp_path / "serve.log", **env) as api:
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
