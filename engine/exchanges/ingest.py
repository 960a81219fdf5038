"""Ingest exchange records: each once, settling the order it pays (invariant 3).

A record becomes a `transfers` row with chain = the exchange, tx_hash = the
exchange's record id (log index 0), to_address = the account uid and
token_contract = the currency, so matching, settlement, notification,
unmatched-transfer review and export work as for chains. De-duplication is
the (chain, tx hash, log index) constraint. A record seen before it was
final is kept as unmatched `not_final`; when it comes back final it is
judged again and may then settle its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import ChainTransfer
from engine.exchanges import queries
from engine.exchanges.ports import ExchangeRecord
from engine.models import Transfer
from engine.settlement import IngestResult, MatchRules, Reason, Settle, settle_transfer
from engine.settlement.ingest import insert_unmatched, likely_order
from engine.settlement.matching import Verdict, judge, near_amount_verdict
from engine.settlement.queries import exact_candidates, live_orders_at
from engine.settlement.rules import TransferStatus

CURRENCY = "USDT"


def exchange_rules(late_window_minutes: int) -> MatchRules:
    """The currency is checked where chains check the token contract."""
    return MatchRules(token_contract=CURRENCY, late_window=timedelta(minutes=late_window_minutes))


def as_transfer(record: ExchangeRecord, uid: str) -> ChainTransfer:
    return ChainTransfer(
        chain=record.exchange,
        tx_hash=record.record_id[:80],
        log_index=0,
        block_number=int(record.time.timestamp() * 1000),  # the record's time in ms, for ordering
        block_time=record.time,
        from_address=record.sender[:64],
        to_address=uid,
        token_contract=record.currency[:64],
        amount_units=record.amount_units or 0,
    )


async def verdict_for(
    session: AsyncSession, record: ExchangeRecord, transfer: ChainTransfer, rules: MatchRules
) -> Verdict:
    """Which order the record settles, or why none: the chain rules plus
    the exchange's own final state and an amount that is a USDT amount."""
    candidates = (await exact_candidates(session, transfer.chain, [transfer])).get(
        (transfer.to_address, transfer.amount_units), []
    )
    first = judge(transfer, candidates, rules)
    if first is not None and first.reason in (Reason.WRONG_TOKEN, Reason.ALREADY_PAID, Reason.ORDER_CLOSED):
        return first
    if not record.final:
        return Verdict(first.order_id if first else None, Reason.NOT_FINAL)
    if record.amount_units is None:
        return Verdict(first.order_id if first else None, Reason.BAD_AMOUNT)
    if first is not None:
        return first
    suspects = await live_orders_at(session, transfer.chain, [transfer], rules)
    return near_amount_verdict(transfer, likely_order(transfer, suspects.get(transfer.to_address, []), rules))


async def ingest_records(
    session: AsyncSession,
    uid: str,
    records: Sequence[ExchangeRecord],
    now: datetime,
    rules: MatchRules,
    *,
    source: str = "watcher",
) -> IngestResult:
    """Record and judge `records` of the account `uid`; flush only (the caller commits)."""
    result = IngestResult(received=len(records))
    if not records:
        return result
    exchange = records[0].exchange
    known = await queries.transfers_by_record(session, exchange, [r.record_id[:80] for r in records])
    seen: set[str] = set()
    for record in sorted(records, key=lambda r: (r.time, r.record_id)):
        if record.record_id in seen:
            result.duplicates += 1
            continue
        seen.add(record.record_id)
        transfer = as_transfer(record, uid)
        row = known.get(transfer.tx_hash)
        if row is not None and not (record.final and row.reason == Reason.NOT_FINAL.value):
            result.duplicates += 1  # recorded before; only a not-final row is judged again
            continue
        verdict = await verdict_for(session, record, transfer, rules)
        await _apply(session, transfer, verdict, row, now, source, result)
    await session.flush()
    return result


async def _apply(
    session: AsyncSession,
    transfer: ChainTransfer,
    verdict: Verdict,
    row: Transfer | None,
    now: datetime,
    source: str,
    result: IngestResult,
) -> None:
    if verdict.reason is None and verdict.order_id is not None:
        outcome = await settle_transfer(
            session,
            transfer,
            verdict.order_id,
            now,
            source=source,
            existing_transfer_id=row.id if row else None,
        )
        if outcome is Settle.SETTLED:
            result.matched_orders.append(verdict.order_id)
            return
        if outcome is Settle.DUPLICATE:
            result.duplicates += 1
            return
        verdict = Verdict(verdict.order_id, Reason.ALREADY_PAID)
    assert verdict.reason is not None
    if row is None:
        reasons, existed = await insert_unmatched(session, [(transfer, verdict)], now, source)
        result.unmatched.update(reasons)
        result.duplicates += existed
        return
    if row.reason != verdict.reason.value:  # a not-final row whose record is now final
        await session.execute(
            update(Transfer)
            .where(Transfer.id == row.id)
            .values(
                status=TransferStatus.UNMATCHED.value, reason=verdict.reason.value, order_id=verdict.order_id
            )
        )
        result.unmatched[verdict.reason.value] += 1
