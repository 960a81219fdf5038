"""Operator actions on other domains' rows: close an unpaid order, enable or
disable a merchant or a wallet, rotate a merchant's key. Each returns the
row's before / after for the audit log; flush only."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import BusinessRule, NotFound
from engine.merchants import get_merchant
from engine.models import ChannelPayment, Merchant, Order, Wallet
from engine.orders.schemas import OrderStatus
from engine.settlement.queries import lock_order

Change = tuple[dict[str, Any], dict[str, Any]]
CLOSABLE = (OrderStatus.PENDING.value, OrderStatus.EXPIRED.value)


def order_facts(order: Order) -> dict[str, Any]:
    return {"status": order.status, "paid_at": order.paid_at, "tx_hash": order.tx_hash}


async def close_order(session: AsyncSession, order_id: int, pending: list[ChannelPayment]) -> Change:
    """Close an unpaid order. Its open channel payments (`pending`, already
    closed at their channel by the caller) are marked closed too. The USDT
    reservation stays held until expiry plus the late window, so a payment
    that still arrives is recorded unmatched (order_closed), never credited
    to a newer order."""
    order = await lock_order(session, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.status not in CLOSABLE:
        raise BusinessRule(f"order {order_id} is {order.status}; only an unpaid order can be closed")
    before = order_facts(order)
    order.status = OrderStatus.CLOSED.value
    for payment in pending:
        row = await session.get(ChannelPayment, payment.id)
        if row is not None and row.status == "pending":
            row.status = "closed"
    await session.flush()
    return before, order_facts(order)


async def _merchant(session: AsyncSession, pid: str) -> Merchant:
    merchant = await get_merchant(session, pid, include_disabled=True)
    if merchant is None:
        raise NotFound(f"no merchant {pid}")
    return merchant


async def set_merchant_enabled(session: AsyncSession, pid: str, enabled: bool) -> Change:
    merchant = await _merchant(session, pid)
    before = {"enabled": merchant.enabled}
    merchant.enabled = enabled
    await session.flush()
    return before, {"enabled": merchant.enabled}


def new_merchant_key() -> str:
    return secrets.token_hex(24)


async def rotate_merchant_key(session: AsyncSession, pid: str) -> tuple[str, Change]:
    """A new random key; the old one stops working at once. The key is
    returned to be shown once; the audit log keeps only its first characters."""
    merchant = await _merchant(session, pid)
    key = new_merchant_key()
    before = {"key": merchant.key[:4] + "…"}
    merchant.key = key
    await session.flush()
    return key, (before, {"key": key[:4] + "…"})


async def set_wallet_enabled(session: AsyncSession, wallet_id: int, enabled: bool) -> Change:
    wallet = await session.get(Wallet, wallet_id)
    if wallet is None:
        raise NotFound(f"no wallet {wallet_id}")
    before = {"enabled": wallet.enabled}
    wallet.enabled = enabled
    await session.flush()
    return before, {"enabled": wallet.enabled}
