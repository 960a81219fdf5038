"""Issue 18's sign-in limit holds across processes and counts an IPv6
client by its /64.

Two `usdtpay serve` processes share one database, as behind a load
balancer. Failed sign-ins are rows in it (engine.admin.login_limit), so a
guesser cannot get limit x processes tries by alternating between them,
nor by sending them all at once (exactly the limit is checked); before,
each process counted its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.admin import totp
from engine.models import AdminLoginAttempt
from tests.api.http.security.console_login import CONSOLE_ENV, add_account, sign_in
from tests.api.http.security.support import served
from tests.dbharness import Db
from tests.factories import make_merchant

pytestmark = pytest.mark.timeout(240)

LIMIT = 3
WRONG = "000000"  # the accounts' codes are checked not to be it


def code(secret: str) -> str:
    return totp.code_at(secret, datetime.now(UTC))


async def test_failed_sign_ins_count_across_processes(any_db: Db, tmp_path: Path) -> None:
    await make_merchant(any_db)
    accounts = {name: await add_account(any_db, name) for name in ("alice", "bob", "carol")}
    assert all(code(new.totp_secret) != WRONG for new in accounts.values())  # a 1e-6 chance; rerun
    env = {**CONSOLE_ENV, "USDTPAY_ADMIN__LOGIN_ATTEMPTS": str(LIMIT)}
    with served(any_db, tmp_path / "a.log", **env) as one, served(any_db, tmp_path / "b.log", **env) as two:
        a, b = one.base_url, two.base_url
        # One username, guessed from three addresses, alternating processes.
        guesses = [await sign_in(url, "alice", WRONG, f"198.51.100.{n}") for n, url in enumerate((a, b, a))]
        alice = await sign_in(b, "alice", code(accounts["alice"].totp_secret), "198.51.100.9")
        # One IPv6 /64, three unknown names, then a real account from another address in it.
        names = [
            await sign_in(url, f"guess{n}", WRONG, f"2001:db8:66:1::{n + 1}")
            for n, url in enumerate((a, b, a))
        ]
        bob_code = code(accounts["bob"].totp_secret)
        same_64 = await sign_in(b, "bob", bob_code, "2001:db8:66:1:ffff::1")
        other_64 = await sign_in(a, "bob", bob_code, "2001:db8:66:2::1")
        # Eight guesses at once for one name, spread over both processes.
        at_once = await asyncio.gather(
            *(sign_in((a, b)[n % 2], "carol", WRONG, f"203.0.113.{n + 1}") for n in range(8))
        )
    assert guesses == [403] * LIMIT and alice == 429
    assert names == [403] * LIMIT and same_64 == 429 and other_64 == 303
    assert sorted(at_once) == [403] * LIMIT + [429] * (8 - LIMIT), at_once
    async with any_db.sessions() as session:
        carol = await session.scalar(
            select(func.count()).select_from(AdminLoginAttempt).where(AdminLoginAttempt.key == "user:carol")
        )
    assert carol == LIMIT  # the refused ones wrote none
