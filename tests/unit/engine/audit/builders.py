"""Detached ORM rows for the pure comparison tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from engine.chain import ChainTransfer
from engine.models import Order, Transfer

_ids = itertools.count(1_000_001)


def order(
    address: str,
    units: int,
    created: datetime,
    *,
    status: str = "pending",
    paid_by: ChainTransfer | None = None,
    chain: str = "tron",
    expire_minutes: int = 30,
) -> Order:
    row = Order(
        id=next(_ids),
        merchant_id=1,
        merchant_order_no=f"M{next(_ids)}",
        face="usdt",
        currency="USDT",
        usdt_price_units=units,
        usdt_units=units,
        chain=chain,
        address=address,
        status=status,
        paid_late=False,
        created_at=created,
        expires_at=created + timedelta(minutes=expire_minutes),
        extra={},
    )
    if paid_by is not None:
        row.status = "paid"
        row.tx_hash = paid_by.tx_hash
        row.block_number = paid_by.block_number
        row.paid_at = paid_by.block_time
        row.paid_units = paid_by.amount_units
        row.payer_address = paid_by.from_address
    return row


def row(
    t: ChainTransfer, order_id: int | None = None, *, reason: str | None = None, **changes: object
) -> Transfer:
    values: dict[str, object] = {
        "chain": t.chain,
        "tx_hash": t.tx_hash,
        "log_index": t.log_index,
        "block_number": t.block_number,
        "block_time": t.block_time,
        "from_address": t.from_address,
        "to_address": t.to_address,
        "token_contract": t.token_contract,
        "amount_units": t.amount_units,
        "order_id": order_id,
        "status": "matched" if order_id is not None and reason is None else "unmatched",
        "reason": reason,
        "source": "watcher",
        "created_at": t.block_time,
    }
    values.update(changes)
    return Transfer(**values)
