"""CSV exports for accountants: orders, and settlements (money received).

Amounts appear twice, as integer units (exact, for sums) and as decimal
text (for people); times twice, in UTC and in the deployment's time zone
(settings.timezone). Rows are streamed (export/queries.py) so a large window stays cheap.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from engine.export import queries
from engine.models import ChannelPayment, Order, Transfer
from engine.money import format_fen, format_usdt

ORDER_COLUMNS = [
    "platform_order_no",
    "merchant_pid",
    "merchant_order_no",
    "face",
    "status",
    "paid_late",
    "currency",
    "channel",
    "chain",
    "fiat_fen",
    "fiat_cny",
    "usdt_units",
    "usdt",
    "paid_units",
    "paid_usdt",
    "rate",
    "receiving_address",
    "payer_address",
    "tx_hash",
    "channel_trade_no",
    "block_number",
    "created_utc",
    "created_local",
    "expires_utc",
    "expires_local",
    "paid_utc",
    "paid_local",
]

SETTLEMENT_COLUMNS = [
    "kind",
    "platform_order_no",
    "merchant_pid",
    "merchant_order_no",
    "method",
    "currency",
    "fiat_fen",
    "fiat_cny",
    "received_units",
    "received",
    "received_unit",
    "rate",
    "reference",
    "log_index",
    "payer",
    "receiving_address",
    "settled_utc",
    "settled_local",
    "paid_late",
    "reason",
]


@dataclass(frozen=True)
class ExportWindow:
    since: datetime
    until: datetime
    tz: tzinfo
    merchant_id: int | None = None

    @classmethod
    def of(
        cls, since: datetime, until: datetime, timezone: str, merchant_id: int | None = None
    ) -> ExportWindow:
        return cls(since, until, ZoneInfo(timezone), merchant_id)


def utc_text(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def local_text(value: datetime | None, tz: tzinfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def _usdt(units: int | None) -> str:
    return format_usdt(units) if units is not None else ""


def _fen(fen: int | None) -> str:
    return format_fen(fen) if fen is not None else ""


def _blank(value: object) -> object:
    return "" if value is None else value


def order_row(order: Order, pid: str, trade_no: str | None, tz: tzinfo) -> dict[str, object]:
    return {
        "platform_order_no": order.id,
        "merchant_pid": pid,
        "merchant_order_no": order.merchant_order_no,
        "face": order.face,
        "status": order.status,
        "paid_late": "yes" if order.paid_late else "no",
        "currency": order.currency,
        "channel": _blank(order.channel),
        "chain": _blank(order.chain),
        "fiat_fen": _blank(order.fiat_fen),
        "fiat_cny": _fen(order.fiat_fen),
        "usdt_units": _blank(order.usdt_units),
        "usdt": _usdt(order.usdt_units),
        "paid_units": _blank(order.paid_units),
        "paid_usdt": _usdt(order.paid_units),
        "rate": _blank(order.rate),
        "receiving_address": _blank(order.address),
        "payer_address": _blank(order.payer_address),
        "tx_hash": _blank(order.tx_hash),
        "channel_trade_no": _blank(order.channel_trade_no or trade_no),
        "block_number": _blank(order.block_number),
        "created_utc": utc_text(order.created_at),
        "created_local": local_text(order.created_at, tz),
        "expires_utc": utc_text(order.expires_at),
        "expires_local": local_text(order.expires_at, tz),
        "paid_utc": utc_text(order.paid_at),
        "paid_local": local_text(order.paid_at, tz),
    }


async def export_orders(session: AsyncSession, out: TextIO, window: ExportWindow) -> int:
    """Orders created in [since, until); returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=ORDER_COLUMNS)
    writer.writeheader()
    count = 0
    rows = queries.orders_created(session, window.since, window.until, window.merchant_id)
    async for order, pid, trade_no in rows:
        writer.writerow(order_row(order, pid, trade_no, window.tz))
        count += 1
    return count


def settlement_row(order: Order, pid: str, payment: ChannelPayment | None, tz: tzinfo) -> dict[str, object]:
    """One paid order: what came in, through which chain or channel."""
    on_chain = order.chain is not None and order.tx_hash is not None
    received = order.paid_units if on_chain else (payment.amount_fen if payment else order.fiat_fen)
    trade_no = order.channel_trade_no or (payment.channel_trade_no if payment else None)
    return {
        "kind": "order_paid",
        "platform_order_no": order.id,
        "merchant_pid": pid,
        "merchant_order_no": order.merchant_order_no,
        "method": order.chain if on_chain else _blank(order.channel),
        "currency": order.currency,
        "fiat_fen": _blank(order.fiat_fen),
        "fiat_cny": _fen(order.fiat_fen),
        "received_units": _blank(received),
        "received": (_usdt(received) if on_chain else _fen(received)),
        "received_unit": "USDT" if on_chain else "CNY",
        "rate": _blank(order.rate),
        "reference": order.tx_hash if on_chain else _blank(trade_no),
        "log_index": "",
        "payer": _blank(order.payer_address),
        "receiving_address": _blank(order.address),
        "settled_utc": utc_text(order.paid_at),
        "settled_local": local_text(order.paid_at, tz),
        "paid_late": "yes" if order.paid_late else "no",
        "reason": "",
    }


def unmatched_row(t: Transfer, tz: tzinfo) -> dict[str, object]:
    """USDT that arrived without settling an order: the accountants must
    see it (a refund or a manual credit follows)."""
    return {
        "kind": "unmatched_transfer",
        "platform_order_no": "",
        "merchant_pid": "",
        "merchant_order_no": "",
        "method": t.chain,
        "currency": "USDT",
        "fiat_fen": "",
        "fiat_cny": "",
        "received_units": t.amount_units,
        "received": format_usdt(t.amount_units),
        "received_unit": "USDT",
        "rate": "",
        "reference": t.tx_hash,
        "log_index": t.log_index,
        "payer": t.from_address,
        "receiving_address": t.to_address,
        "settled_utc": utc_text(t.block_time),
        "settled_local": local_text(t.block_time, tz),
        "paid_late": "",
        "reason": _blank(t.reason),
    }


async def export_settlements(session: AsyncSession, out: TextIO, window: ExportWindow) -> int:
    """Orders paid in [since, until), then (without a merchant filter) the
    unmatched transfers of the window; returns the number of rows. A fiat
    order paid twice at its channel shows twice: money came in twice."""
    writer = csv.DictWriter(out, fieldnames=SETTLEMENT_COLUMNS)
    writer.writeheader()
    count = 0
    paid = queries.orders_paid(session, window.since, window.until, window.merchant_id)
    async for order, pid, payment in paid:
        writer.writerow(settlement_row(order, pid, payment, window.tz))
        count += 1
    if window.merchant_id is None:
        async for (t,) in queries.unmatched_transfers(session, window.since, window.until):
            writer.writerow(unmatched_row(t, window.tz))
            count += 1
    return count
