"""Signing in to the console over real HTTP, as a browser would, from a
chosen client address (sent as the test's nginx sends it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from engine import totp_sealing
from engine.admin import service
from tests.api.http.security.support import nginx_headers
from tests.dbharness import Db

PASSWORD = "correct horse battery staple"
TOTP_KEY = "a-test-totp-sealing-key-0123456789"
# For `usdtpay serve` behind the test's nginx, with the console's cookies on plain http.
CONSOLE_ENV = {
    "USDTPAY_API__FORWARDED_ALLOW_IPS": '["127.0.0.1/32"]',
    "USDTPAY_ADMIN__COOKIE_SECURE": "false",
    "USDTPAY_ADMIN__TOTP_KEY": TOTP_KEY,
    "USDTPAY_LOG_JSON": "false",
}


async def add_account(db: Db, username: str, key: str = TOTP_KEY) -> service.NewAccount:
    """An operator account written as `usdtpay admin add` writes it with `key`."""
    totp_sealing.configure(key)
    try:
        async with db.sessions() as session:
            new = await service.add_account(session, username, PASSWORD, "operator", datetime.now(UTC))
            await session.commit()
            return new
    finally:
        totp_sealing.configure("")


async def sign_in(base_url: str, username: str, code: str, source: str, password: str = PASSWORD) -> int:
    """The status of one sign-in (303 signed in, 403 refused, 429 limited)."""
    headers = nginx_headers(source)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) as client:
        page = await client.get("/admin/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert page.status_code == 200 and found, page.text[:300]
        fields = {"csrf": found.group(1), "username": username, "password": password, "code": code}
        answer = await client.post("/admin/login", data=fields, follow_redirects=False)
    return answer.status_code
