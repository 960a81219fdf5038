"""Books for the engine.admin tests: a USDT order on TRON and an underpaid
transfer to its address, ingested the way a watcher does."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.chain import ChainTransfer
from engine.clock import ManualClock
from engine.config import Settings
from engine.models import Merchant, Order, Transfer
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.settlement import ingest, rules_for
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, tron_address

NOW = datetime.now(UTC).replace(microsecond=0)


async def usdt_order(db: Db, merchant: Merchant, units: int, order_no: str, when: datetime = NOW) -> Order:
    new = NewOrder(
        face="usdt",
        merchant_order_no=order_no,
        currency=Currency.USDT,
        amount_units=units,
        chain="tron",
        notify_url="http://127.0.0.1:9/notify",
    )
    # USDT-priced: no rate is read.
    order, _ = await create_order(db.work, merchant, new, settings=Settings(), clock=ManualClock(when))
    return order


async def send(db: Db, order: Order, units: int, when: datetime) -> Transfer:
    """A final transfer of `units` to the order's address, ingested."""
    assert order.address is not None
    rules = rules_for(Settings(), "tron")
    transfer = ChainTransfer(
        chain="tron",
        tx_hash=secrets.token_hex(32),
        log_index=0,
        block_number=1000,
        block_time=when,
        from_address=tron_address(777),
        to_address=order.address,
        token_contract=rules.token_contract,
        amount_units=units,
    )
    async with db.sessions() as session:
        await ingest(session, "tron", [transfer], when, rules)
        await session.commit()
        found = await session.scalar(select(Transfer).where(Transfer.tx_hash == transfer.tx_hash))
        assert found is not None
        return found


async def underpaid_books(db: Db) -> tuple[Order, Transfer]:
    merchant = await make_merchant(db)
    await make_wallets(db, "tron", 1)
    order = await usdt_order(db, merchant, 13_890_000, "U-1")
    assert order.usdt_units is not None
    transfer = await send(db, order, order.usdt_units - 10_000, NOW + timedelta(seconds=30))
    assert transfer.status == "unmatched" and transfer.reason == "underpaid"
    return order, transfer
