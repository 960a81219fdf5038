"""Ingest decoded transfers: record each once, settle what matches (invariant 3).

Idempotent on (chain, tx hash, log index): a replayed range finds its rows
and does nothing. Every new transfer becomes a row, matched or unmatched
with a reason; none is dropped. The order's status change and the
merchant's notification are flushed in the caller's transaction
(invariant 5); the caller commits.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import ChainTransfer
from engine.models import Merchant, Order, Transfer
from engine.notify.outbox import enqueue_order_event
from engine.settlement.matching import Verdict, in_window, judge, near_amount_verdict
from engine.settlement.queries import Key, exact_candidates, known_keys, live_orders_at, lock_order
from engine.settlement.rules import SETTLEABLE, MatchRules, Reason, TransferStatus

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

log = logging.getLogger("usdtpay.settlement")


@dataclass
class IngestResult:
    received: int = 0
    duplicates: int = 0
    matched_orders: list[int] = field(default_factory=list)
    unmatched: Counter[str] = field(default_factory=Counter)

    @property
    def recorded(self) -> int:
        return len(self.matched_orders) + sum(self.unmatched.values())

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.duplicates += other.duplicates
        self.matched_orders += other.matched_orders
        self.unmatched.update(other.unmatched)


class Settle(Enum):
    SETTLED = "settled"
    DUPLICATE = "duplicate"  # the (tx, log) row exists already
    NOT_SETTLEABLE = "not_settleable"  # the order is paid / closed by now


def _insert(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    # Imported on first use, the bound dialect's own: sqlalchemy.dialects.postgresql
    # loads every PostgreSQL driver's module, which a SQLite process (and
    # `usdtpay status`, which reaches this package for the cursors) need not pay.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import Insert as PostgresInsert

        return PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

    return SqliteInsert


def transfer_values(
    transfer: ChainTransfer, status: TransferStatus, reason: Reason | None, order_id: int | None, source: str
) -> dict[str, object]:
    return {
        "chain": transfer.chain,
        "tx_hash": transfer.tx_hash,
        "log_index": transfer.log_index,
        "block_number": transfer.block_number,
        "block_time": transfer.block_time,
        "from_address": transfer.from_address,
        "to_address": transfer.to_address,
        "token_contract": transfer.token_contract,
        "amount_units": transfer.amount_units,
        "order_id": order_id,
        "status": status.value,
        "reason": reason.value if reason else None,
        "source": source,
    }


def recorded_transfer_of(row: Transfer) -> ChainTransfer:
    """A stored transfers row as the ChainTransfer it was recorded from."""
    return ChainTransfer(
        chain=row.chain,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
        block_number=row.block_number,
        block_time=row.block_time,
        from_address=row.from_address,
        to_address=row.to_address,
        token_contract=row.token_contract,
        amount_units=row.amount_units,
    )


async def insert_transfer(session: AsyncSession, values: dict[str, object], now: datetime) -> int | None:
    """Insert one transfer row; None when (chain, tx, log) exists already."""
    stmt = (
        _insert(session)(Transfer)
        .values(**values, created_at=now)
        .on_conflict_do_nothing(index_elements=["chain", "tx_hash", "log_index"])
        .returning(Transfer.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def likely_order(transfer: ChainTransfer, suspects: list[Order], rules: MatchRules) -> Order | None:
    """The settleable order at the address, in its window, closest in amount."""
    orders = [o for o in suspects if o.status in SETTLEABLE and in_window(o, transfer.block_time, rules)]
    if not orders:
        return None
    return min(orders, key=lambda o: (abs((o.usdt_units or 0) - transfer.amount_units), o.created_at))


async def settle_transfer(
    session: AsyncSession,
    transfer: ChainTransfer,
    order_id: int,
    now: datetime,
    *,
    source: str,
    existing_transfer_id: int | None = None,
) -> Settle:
    """Record `transfer` as the payment of the order and mark it paid.

    The one code path for the watcher and for supplement. With
    `existing_transfer_id`, an already recorded unmatched row is re-pointed
    instead of inserting a new one.
    """
    order = await lock_order(session, order_id)
    if order is None or order.status not in SETTLEABLE:
        return Settle.NOT_SETTLEABLE
    values = transfer_values(transfer, TransferStatus.MATCHED, None, order.id, source)
    if existing_transfer_id is None:
        transfer_id = await insert_transfer(session, values, now)
        if transfer_id is None:
            return Settle.DUPLICATE
    else:
        transfer_id = existing_transfer_id
        await session.execute(
            update(Transfer)
            .where(Transfer.id == transfer_id)
            .values(status=TransferStatus.MATCHED.value, reason=None, order_id=order.id)
        )
    order.status = "paid"
    order.paid_late = transfer.block_time > order.expires_at
    order.paid_at = transfer.block_time
    order.tx_hash = transfer.tx_hash
    order.payer_address = transfer.from_address
    order.block_number = transfer.block_number
    order.paid_units = transfer.amount_units
    order.transfer_id = transfer_id
    await session.flush()
    merchant = await session.get(Merchant, order.merchant_id)
    assert merchant is not None  # orders.merchant_id is a foreign key
    await enqueue_order_event(session, order, merchant, "paid", now)
    ids = {"order_id": order.id, "chain": transfer.chain, "tx_hash": transfer.tx_hash}
    log.info("order paid on chain (%s)", source, extra={**ids, "late": order.paid_late})
    return Settle.SETTLED


async def insert_unmatched(
    session: AsyncSession, rows: list[tuple[ChainTransfer, Verdict]], now: datetime, source: str
) -> tuple[Counter[str], int]:
    """Insert unmatched rows (one executemany, batched by SQLAlchemy); returns
    the reasons counted for the rows inserted, and how many already existed."""
    if not rows:
        return Counter(), 0
    values = [
        {**transfer_values(t, TransferStatus.UNMATCHED, v.reason, v.order_id, source), "created_at": now}
        for t, v in rows
    ]
    stmt = (
        _insert(session)(Transfer)
        .on_conflict_do_nothing(index_elements=["chain", "tx_hash", "log_index"])
        .returning(Transfer.tx_hash, Transfer.log_index)
    )
    inserted: set[Key] = set((await session.execute(stmt, values)).tuples())
    reasons: Counter[str] = Counter()
    for transfer, verdict in rows:
        if (transfer.tx_hash, transfer.log_index) in inserted:
            assert verdict.reason is not None
            reasons[verdict.reason.value] += 1
    return reasons, len(rows) - len(inserted)


def fresh_transfers(transfers: Sequence[ChainTransfer], known: set[Key]) -> list[ChainTransfer]:
    """New transfers in chain order, each (tx, log) once."""
    seen = set(known)
    fresh: list[ChainTransfer] = []
    for t in sorted(transfers, key=lambda t: (t.block_number, t.log_index, t.tx_hash)):
        if (t.tx_hash, t.log_index) not in seen:
            seen.add((t.tx_hash, t.log_index))
            fresh.append(t)
    return fresh


async def ingest(
    session: AsyncSession,
    chain: str,
    transfers: Sequence[ChainTransfer],
    now: datetime,
    rules: MatchRules,
    *,
    source: str = "watcher",
) -> IngestResult:
    """Record `transfers` of `chain` and settle the orders they pay; flush only."""
    if any(t.chain != chain for t in transfers):
        raise ValueError(f"ingest for {chain} was given transfers of another chain")
    result = IngestResult(received=len(transfers))
    fresh = fresh_transfers(transfers, await known_keys(session, chain, (t.tx_hash for t in transfers)))
    result.duplicates = len(transfers) - len(fresh)
    candidates = await exact_candidates(session, chain, fresh)
    verdicts = [(t, judge(t, candidates.get((t.to_address, t.amount_units), []), rules)) for t in fresh]
    suspects = await live_orders_at(session, chain, [t for t, v in verdicts if v is None], rules)
    settled: set[int] = set()
    unmatched: list[tuple[ChainTransfer, Verdict]] = []
    for transfer, first in verdicts:
        verdict = first or near_amount_verdict(
            transfer, likely_order(transfer, suspects.get(transfer.to_address, []), rules)
        )
        if verdict.reason is None and verdict.order_id in settled:
            verdict = Verdict(verdict.order_id, Reason.ALREADY_PAID)  # twice in one batch
        if verdict.reason is None and verdict.order_id is not None:
            outcome = await settle_transfer(session, transfer, verdict.order_id, now, source=source)
            if outcome is Settle.SETTLED:
                settled.add(verdict.order_id)
                result.matched_orders.append(verdict.order_id)
                continue
            if outcome is Settle.DUPLICATE:  # a concurrent writer recorded it first
                result.duplicates += 1
                continue
            verdict = Verdict(verdict.order_id, await _unsettleable_reason(session, verdict.order_id))
        unmatched.append((transfer, verdict))
    reasons, existed = await insert_unmatched(session, unmatched, now, source)
    result.unmatched.update(reasons)
    result.duplicates += existed
    await session.flush()
    return result


async def _unsettleable_reason(session: AsyncSession, order_id: int) -> Reason:
    order = await session.get(Order, order_id)
    return Reason.ALREADY_PAID if order is None or order.status == "paid" else Reason.ORDER_CLOSED
