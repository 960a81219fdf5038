"""Detached ORM rows for the pure comparison tests, in the shapes these
tests speak (an order at an address; a transfer row for a decoded log), built
on tests.factories."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.chain import ChainTransfer
from engine.models import Order
from tests.factories import order_row, transfer_row


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
    """An order row at `address` for `units`, paid by `paid_by` if given."""
    row = order_row(
        address=address,
        usdt_units=units,
        created_at=created,
        expires_at=created + timedelta(minutes=expire_minutes),
        status=status,
        chain=chain,
    )
    if paid_by is not None:
        row.status = "paid"
        row.tx_hash = paid_by.tx_hash
        row.block_number = paid_by.block_number
        row.paid_at = paid_by.block_time
        row.paid_units = paid_by.amount_units
        row.payer_address = paid_by.from_address
    return row


row = transfer_row
