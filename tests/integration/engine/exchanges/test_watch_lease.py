"""An exchange watcher holds a lease like a chain watcher: a second watcher
of the same exchange (hence of the same receiving accounts) is refused at
start, naming the process that holds them; `usdtpay watch okx` says so and
exits 2; stopping gives the accounts back; every poll beats the lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.cli import main
from engine.clock import ManualClock
from engine.models import WatcherLease
from engine.settlement.lease import WatcherHeld
from tests.api.http.watcher_states import lease_held_elsewhere
from tests.dbharness import Db
from tests.integration.engine.exchanges.support import Sims, add_account, credentials, settings_for
from watchers.exchanges.loop import ExchangeWatcher


async def lease_of(db: Db, exchange: str) -> WatcherLease | None:
    async with db.sessions() as session:
        return await session.get(WatcherLease, exchange)


async def test_a_second_watcher_of_the_same_accounts_is_refused_naming_the_holder(
    any_db: Db, sims: Sims
) -> None:
    settings = settings_for(any_db, sims)
    now = datetime.now(UTC)
    account = await add_account(any_db, settings, "okx", credentials(sims, "okx"), now - timedelta(hours=1))
    clock = ManualClock(now)
    first = ExchangeWatcher(settings, any_db.sessions, "okx", clock)
    second = ExchangeWatcher(settings, any_db.sessions, "okx", clock)
    other_exchange = ExchangeWatcher(settings, any_db.sessions, "binance", clock)
    await first.claim()
    try:
        with pytest.raises(WatcherHeld) as refused:
            await second.claim(holder="otherhost:1")  # another process on another host
        held = f"every okx receiving account (#{account.id}) is already watched by process {first.holder}"
        assert held in str(refused.value)
        await other_exchange.claim(holder="otherhost:1")  # another exchange's accounts are free
        await first.step_all()
        lease = await lease_of(any_db, "okx")
        assert lease is not None and lease.holder == first.holder and lease.last_ok_at is not None
    finally:
        await first.aclose()  # stopping gives the lease back
        await other_exchange.aclose()
    await second.claim(holder="otherhost:1")
    await second.aclose()


async def test_a_failing_poll_is_recorded_on_the_lease(db: Db, sims: Sims) -> None:
    settings = settings_for(db, sims)
    now = datetime.now(UTC)
    await add_account(db, settings, "htx", credentials(sims, "htx"), now - timedelta(hours=1))
    watcher = ExchangeWatcher(settings, db.sessions, "htx", ManualClock(now))
    await watcher.claim()
    try:
        sims.htx.fail("5xx", times=5)
        assert await watcher.step_all() == []
        lease = await lease_of(db, "htx")
        assert lease is not None and lease.failing_since is not None and lease.errors == 1
        assert lease.last_error and lease.last_error.startswith("account #")
    finally:
        await watcher.aclose()


def test_usdtpay_watch_okx_refuses_accounts_watched_elsewhere(
    db: Db, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(lease_held_elsewhere(db, "okx"))
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    code = main(["watch", "okx", "--until-caught-up"])
    err = capsys.readouterr().err
    assert code == 2
    held = "every okx receiving account (none enabled yet) is already watched by process otherhost:4242"
    assert held in err


async def test_an_account_backing_off_keeps_the_watcher_failing(db: Db, sims: Sims) -> None:
    settings = settings_for(db, sims)
    now = datetime.now(UTC)
    account = await add_account(db, settings, "okx", credentials(sims, "okx"), now - timedelta(hours=1))
    watcher = ExchangeWatcher(settings, db.sessions, "okx", ManualClock(now))
    await watcher.claim()
    try:
        sims.okx.fail("auth")  # a refused key waits five minutes before its next try
        await watcher.step_all()
        assert await watcher.step_all() == []  # skipped while it waits: not a success
        lease = await lease_of(db, "okx")
        assert lease is not None and lease.failing_since is not None and lease.errors == 1
        watcher.slots[account.id].not_before = 0.0  # the wait is over; the key works again
        assert len(await watcher.step_all()) == 1
        lease = await lease_of(db, "okx")
        assert lease is not None and lease.failing_since is None and lease.last_ok_at is not None
    finally:
        await watcher.aclose()
