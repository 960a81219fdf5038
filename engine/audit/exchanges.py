"""Reconcile exchange orders against the exchanges' own records.

For each receiving account: every record the exchange lists in the window
(asked directly, never through the watcher's cursor) against the
`transfers` rows and paid orders of that account. Findings use the chain
kinds with the exchange as their source: matched, a record the books do
not have, a row or a paid order the exchange does not know, a row that
disagrees (amount, currency, a not-final row whose record is final now),
and unmatched rows with their reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from engine.audit import queries as audit_queries
from engine.audit.findings import Finding, Kind
from engine.audit.run import ChainScan
from engine.db import SessionFactory
from engine.exchanges import queries
from engine.exchanges.ingest import CURRENCY
from engine.exchanges.ports import ExchangeReader, ExchangeRecord
from engine.models import ExchangeAccount, Order, Transfer
from engine.settlement.rules import Reason

ReaderFor = Callable[[ExchangeAccount], ExchangeReader]


def _finding(kind: Kind, exchange: str, message: str, **fields: object) -> Finding:
    return Finding(kind=kind, source=exchange, message=message, **fields)  # type: ignore[arg-type]


def compare(
    exchange: str, records: dict[str, ExchangeRecord], rows: dict[str, Transfer], orders: dict[str, Order]
) -> list[Finding]:
    """Pure: the records at the exchange against our rows and paid orders."""
    out = [f for record in records.values() if (f := _record_finding(exchange, record, rows)) is not None]
    for record_id, row in rows.items():
        if record_id not in records:
            message = "a row whose record the exchange does not list"
            out.append(_finding(Kind.TRANSFER_NOT_ON_CHAIN, exchange, message, tx_hash=record_id,
                                db_units=row.amount_units, order_id=row.order_id))  # fmt: skip
    out += [f for o in orders.values() if (f := _order_finding(exchange, o, records)) is not None]
    return out


def _record_finding(exchange: str, record: ExchangeRecord, rows: dict[str, Transfer]) -> Finding | None:
    row = rows.get(record.record_id)
    base: dict[str, object] = {"tx_hash": record.record_id, "block_time": record.time,
                               "chain_units": record.amount_units}  # fmt: skip
    if row is None:
        if not record.final:
            return None  # the watcher records it once final, or after pending_hours
        message = (
            "the exchange lists a final record the books do not have: is the watcher running and caught up?"
        )
        return _finding(Kind.TRANSFER_NOT_IN_DB, exchange, message, **base)
    base |= {"db_units": row.amount_units, "order_id": row.order_id, "reason": row.reason}
    differs = []
    if row.token_contract != record.currency:
        differs.append(f"currency {row.token_contract} in the books, {record.currency} at the exchange")
    if record.amount_units is not None and row.amount_units != record.amount_units:
        differs.append("the amount differs")
    if row.reason == Reason.NOT_FINAL.value and record.final:
        differs.append("recorded before it was final; it is final now (the watcher will judge it again)")
    if differs:
        return _finding(Kind.TRANSFER_DIFFERS, exchange, "; ".join(differs), **base)
    if row.status == "matched":
        return _finding(Kind.MATCHED, exchange, "record, row and order agree", **base)
    return _finding(Kind.UNMATCHED_TRANSFER, exchange, f"unmatched: {row.reason}", **base)


def _order_finding(exchange: str, order: Order, records: dict[str, ExchangeRecord]) -> Finding | None:
    assert order.tx_hash is not None
    fields: dict[str, object] = {
        "order_id": order.id,
        "tx_hash": order.tx_hash,
        "expected_units": order.usdt_units,
    }
    paid_by = records.get(order.tx_hash)
    if paid_by is None:
        message = "a paid order whose record the exchange does not list"
        return _finding(Kind.ORDER_NOT_ON_CHAIN, exchange, message, **fields)
    if paid_by.currency != CURRENCY or paid_by.amount_units != order.usdt_units or not paid_by.final:
        return _finding(Kind.ORDER_DIFFERS, exchange, "the record that paid the order disagrees with it",
                        chain_units=paid_by.amount_units, **fields)  # fmt: skip
    return None


async def _books(
    sessions: SessionFactory, account: ExchangeAccount, start: datetime, end: datetime
) -> tuple[dict[str, Transfer], dict[str, Order]]:
    async with sessions() as session:
        rows = await audit_queries.transfers_to(session, account.exchange, account.uid, start, end)
        paid = await queries.exchange_orders_between(session, account.exchange, account.uid, ("paid",))
    orders = {o.tx_hash: o for o in paid if o.tx_hash and o.paid_at is not None and start <= o.paid_at <= end}
    return {r.tx_hash: r for r in rows}, orders


async def reconcile_exchange_window(
    sessions: SessionFactory,
    exchange: str,
    reader_for: ReaderFor,
    start: datetime,
    end: datetime,
    *,
    margin: timedelta = timedelta(minutes=1),
    close: Callable[[ExchangeReader], Awaitable[None]] | None = None,
) -> tuple[ChainScan, list[Finding]]:
    """Every account of `exchange` (disabled ones too: their history still counts)."""
    async with sessions() as session:
        accounts = await queries.list_accounts(session, exchange)
    scan = ChainScan(chain=exchange, addresses=len(accounts), note="records read per account")
    findings: list[Finding] = []
    for account in accounts:
        reader = reader_for(account)
        try:
            listed = await reader.incoming(start - margin, end + margin)
        finally:
            await (close(reader) if close else reader.aclose())
        records = {r.record_id: r for r in listed if start <= r.time <= end}
        rows, orders = await _books(sessions, account, start, end)
        scan.on_chain += len(records)
        scan.recorded += len(rows)
        findings += compare(exchange, records, rows, orders)
    return scan, findings
