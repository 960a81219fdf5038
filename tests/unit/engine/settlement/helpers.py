"""Orders and transfers for settlement tests, created through the real services."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import ChainTransfer
from engine.config import ETH_USDT_CONTRACT, OrderSettings
from engine.models import Order
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.settlement import MatchRules
from tests.dbharness import Db
from tests.factories import eth_address, make_merchant

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORDER_SETTINGS = OrderSettings(expire_minutes=30, late_window_minutes=30)
RULES = MatchRules(token_contract=ETH_USDT_CONTRACT, late_window=timedelta(minutes=30))
PAYER = eth_address(0xBEEF)
_numbers = itertools.count(1)


def _no_rate(_: AsyncSession) -> Decimal:
    raise AssertionError("USDT-priced orders need no rate")


async def new_order(
    db: Db,
    *,
    price_units: int = 10_000_000,
    now: datetime = T0,
    notify_url: str = "https://merchant.example/notify",
    chain: str = "eth",
) -> Order:
    """A USDT-priced order on `chain`, committed; needs a merchant and a wallet."""
    async with db.sessions() as session:
        merchant = await make_merchant_once(session)
        order, _ = await create_order(
            session,
            merchant,
            NewOrder(
                face="usdt",
                merchant_order_no=f"T{next(_numbers)}",
                currency=Currency.USDT,
                amount_units=price_units,
                chain=chain,
                notify_url=notify_url,
            ),
            settings=ORDER_SETTINGS,
            rate_lookup=_no_rate,
            now=now,
        )
        await session.commit()
        return order


async def make_merchant_once(session: AsyncSession):  # type: ignore[no-untyped-def]
    from engine.merchants import get_merchant
    from tests.factories import MERCHANT_PID

    merchant = await get_merchant(session, MERCHANT_PID)
    assert merchant is not None, "call tests.factories.make_merchant first"
    return merchant


def paying(
    order: Order, *, at: datetime | None = None, log_index: int = 0, **changes: object
) -> ChainTransfer:
    """A USDT transfer of exactly the order's amount to its address."""
    assert order.address is not None and order.usdt_units is not None
    base = ChainTransfer(
        chain=order.chain or "eth",
        tx_hash=f"{next(_numbers):064x}",
        log_index=log_index,
        block_number=1000,
        block_time=at or order.created_at + timedelta(minutes=5),
        from_address=PAYER,
        to_address=order.address,
        token_contract=ETH_USDT_CONTRACT,
        amount_units=order.usdt_units,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


__all__ = ["PAYER", "RULES", "T0", "make_merchant", "new_order", "paying"]
