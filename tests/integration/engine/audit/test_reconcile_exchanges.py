"""`usdtpay reconcile` for exchange orders: the books against the records the
exchange itself lists (read directly, not through the watcher)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.audit.exchanges import reconcile_exchange_window
from engine.audit.findings import Kind
from engine.clock import ManualClock
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.integration.engine.exchanges.support import (
    Sims,
    add_account,
    amount_text,
    credentials,
    exchange_order,
    pay,
    running_sims,
    settings_for,
)
from watchers.exchanges.build import reader_for_account
from watchers.exchanges.loop import ExchangeWatcher


@pytest.fixture
def sims() -> Iterator[Sims]:
    with running_sims() as running:
        yield running


async def test_reconcile_names_what_the_books_and_the_exchange_disagree_on(any_db: Db, sims: Sims) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    settings = settings_for(any_db, sims)
    await make_merchant(any_db)
    await add_account(any_db, settings, "okx", credentials(sims, "okx"), t0 - timedelta(minutes=5))
    paid, vanishing = [await exchange_order(any_db, "okx", t0) for _ in range(2)]
    at = t0 + timedelta(minutes=1)
    pay(sims, "okx", amount_text(paid), at)
    gone = pay(sims, "okx", amount_text(vanishing), at)
    pay(sims, "okx", "3.000001", at, currency="USDC")
    watcher = ExchangeWatcher(settings, any_db.sessions, "okx", ManualClock(t0 + timedelta(minutes=5)))
    try:
        await watcher.step_all()
    finally:
        await watcher.aclose()
    pay(sims, "okx", "9.000009", t0 + timedelta(minutes=2))  # listed after the watcher read: not in the books
    sims.okx.deposits = [
        r for r in sims.okx.deposits if r["depId"] != gone
    ]  # the exchange no longer lists it
    scan, findings = await reconcile_exchange_window(
        any_db.sessions, "okx", lambda a: reader_for_account(a, settings), t0, t0 + timedelta(hours=1)
    )
    kinds = Counter(f.kind for f in findings)
    assert kinds == {
        Kind.MATCHED: 1,
        Kind.UNMATCHED_TRANSFER: 1,
        Kind.TRANSFER_NOT_IN_DB: 1,
        Kind.TRANSFER_NOT_ON_CHAIN: 1,
        Kind.ORDER_NOT_ON_CHAIN: 1,
    }
    assert all(f.source == "okx" for f in findings)
    assert [f.order_id for f in findings if f.kind == Kind.ORDER_NOT_ON_CHAIN] == [vanishing.id]
    assert (scan.addresses, scan.on_chain, scan.recorded) == (1, 3, 3)
