"""Supplement for type 2 orders: the payer's identifiers checked against the
exchange (seed 004: OKX order number + reference number, Binance
transaction id, HTX blockchain tx id).

The caller asks the exchange (`ExchangeReader.find`) with no session open
and hands the records in. Each failed check has its own code, in the order
a merchant would look: does the exchange know the id, which currency, is
it final, which amount, when, and did it pay another order. Success
settles through the watcher's own path (`settle_transfer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from engine import money
from engine.errors import NotFound
from engine.exchanges import queries
from engine.exchanges.ingest import CURRENCY, as_transfer
from engine.exchanges.ports import EXCHANGES, PLAT_OF, ExchangeRecord
from engine.models import Order, Transfer
from engine.settlement import MatchRules, Settle, settle_transfer
from engine.settlement.matching import window_of
from engine.settlement.queries import lock_order
from engine.settlement.rules import SETTLEABLE
from engine.supplement import (
    AmountDiffers,
    HashUsed,
    OrderAlreadyPaid,
    OrderNotSettleable,
    SupplementRejected,
    TxTooEarly,
    TxTooLate,
)


class RecordNotFound(SupplementRejected):
    code = "record_not_found"


class WrongCurrency(SupplementRejected):
    code = "wrong_currency"


class RecordNotFinal(SupplementRejected):
    code = "record_not_final"


class NoAccount(SupplementRejected):
    code = "account_unknown"


def is_exchange_order(order: Order) -> bool:
    return order.chain in EXCHANGES


def lookup_window(order: Order, rules: MatchRules, now: datetime) -> tuple[datetime, datetime]:
    """Where an exchange without an id filter is scanned: from the order's
    creation up to now, so a late payment is found and named as late."""
    start, _ = window_of(order, rules)
    return start - timedelta(minutes=1), max(start, now)


def pick_record(order: Order, records: Sequence[ExchangeRecord], rules: MatchRules) -> ExchangeRecord:
    """The record that pays `order`, or the first check the records fail."""
    plat = PLAT_OF.get(order.chain or "", order.chain or "")
    if not records:
        raise RecordNotFound(f"{plat} has no incoming record with these ids on the receiving account")
    usdt = [r for r in records if r.currency == CURRENCY]
    if not usdt:
        found = ", ".join(sorted({r.currency for r in records}))
        raise WrongCurrency(f"the {plat} record is in {found}, not USDT")
    final = [r for r in usdt if r.final]
    if not final:
        raise RecordNotFinal(f"the {plat} record is not credited yet (state {usdt[0].state}); retry later")
    exact = [r for r in final if r.amount_units == order.usdt_units]
    if not exact:
        assert order.usdt_units is not None
        sent = ", ".join(r.amount_text for r in final)
        raise AmountDiffers(
            f"the {plat} record is {sent} USDT; the order asks exactly {money.format_usdt(order.usdt_units)}"
        )
    start, end = window_of(order, rules)
    inside = [r for r in exact if start <= r.time <= end]
    if inside:
        return inside[0]
    when = exact[0].time
    if when < start:
        raise TxTooEarly(f"the {plat} record ({when:%Y-%m-%d %H:%M:%S}Z) predates the order")
    raise TxTooLate(
        f"the {plat} record ({when:%Y-%m-%d %H:%M:%S}Z) came after the order's expiry plus "
        f"the late-payment window ({end:%Y-%m-%d %H:%M:%S}Z)"
    )


def check_paid(order: Order, records: Sequence[ExchangeRecord]) -> bool:
    """True when the order is paid by one of these records (a retried
    supplement); an order paid by another record is an error."""
    if order.status != "paid":
        if order.status not in SETTLEABLE:
            raise OrderNotSettleable(f"the order is {order.status}; it can no longer be paid")
        return False
    if any(r.record_id == order.tx_hash for r in records):
        return True
    raise OrderAlreadyPaid(f"the order is already paid by record {order.tx_hash}")


async def _paid_another(
    session: AsyncSession, order: Order, record: ExchangeRecord, rows: dict[str, Transfer]
) -> bool:
    assert order.chain is not None
    row = rows.get(record.record_id)
    if row is not None and row.status == "matched" and row.order_id != order.id:
        return True
    other = await queries.order_paid_by(session, order.chain, record.record_id)
    return other is not None and other != order.id


async def verify_and_settle_record(
    session: AsyncSession,
    order_id: int,
    records: Sequence[ExchangeRecord],
    rules: MatchRules,
    now: datetime,
) -> Order:
    """Verify the records against the order and settle it; flush only."""
    order = await lock_order(session, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if check_paid(order, records):
        return order
    assert order.chain is not None and order.address is not None
    rows = await queries.transfers_by_record(session, order.chain, [r.record_id for r in records])
    free = [r for r in records if not await _paid_another(session, order, r, rows)]
    if records and not free:
        raise HashUsed("this exchange record already settled another order; each payment settles one order")
    record = pick_record(order, free, rules)
    row = rows.get(record.record_id)
    outcome = await settle_transfer(
        session,
        as_transfer(record, order.address),
        order.id,
        now,
        source="supplement",
        existing_transfer_id=row.id if row is not None else None,
    )
    if outcome is not Settle.SETTLED:
        raise OrderNotSettleable("the order changed while the record was verified; query it again")
    return order
