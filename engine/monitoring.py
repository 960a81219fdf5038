"""Operators' figures computed from the database: the notification backlog,
the rate's age, orders, transfers and delivery attempts. `usdtpay status`,
GET /metrics and /api/health all read them here, so they agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import BLOCK_SECONDS, CHAINS, Heads, chain_enabled
from engine.config import Settings
from engine.models import Notification, NotificationAttempt, Order, Transfer
from engine.rates.service import latest
from engine.settlement import list_cursors

# Attempt latency buckets (seconds) for the /metrics histogram; the notify
# timeout is 3 s by default, so the top buckets catch timeouts.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class Backlog:
    pending: int  # not delivered yet, not given up
    due: int  # pending and due now
    oldest_due_at: datetime | None
    failed: int  # gave up after the face's schedule

    def oldest_due_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


async def notification_backlog(session: AsyncSession, now: datetime) -> Backlog:
    pending = Notification.status == "pending"
    due = pending & (Notification.next_attempt_at <= now)
    counts = select(
        func.sum(case((pending, 1), else_=0)),
        func.sum(case((due, 1), else_=0)),
        func.sum(case((Notification.status == "failed", 1), else_=0)),
    )
    n_pending, n_due, n_failed = (await session.execute(counts)).one()
    # MIN over the typed column keeps its UTC conversion on every backend.
    oldest = await session.scalar(select(func.min(Notification.next_attempt_at)).where(due))
    return Backlog(int(n_pending or 0), int(n_due or 0), oldest, int(n_failed or 0))


@dataclass(frozen=True)
class RateState:
    rate: str | None
    fetched_at: datetime | None
    sources: dict[str, str] = field(default_factory=dict)
    fixed: bool = False

    def age_seconds(self, now: datetime) -> float | None:
        if self.fixed:
            return 0.0
        return None if self.fetched_at is None else max(0.0, (now - self.fetched_at).total_seconds())


async def rate_state(session: AsyncSession, settings: Settings) -> RateState:
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        return RateState(str(fixed), None, {"fixed": str(fixed)}, fixed=True)
    snapshot = await latest(session)
    if snapshot is None:
        return RateState(None, None)
    return RateState(snapshot.rate, snapshot.fetched_at, {k: str(v) for k, v in snapshot.sources.items()})


def rate_age_limit(settings: Settings) -> int:
    return settings.ops.rate_age_degraded_seconds or settings.rate.max_age_seconds


async def orders_by_status(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Orders created since `since`, counted by their status now."""
    stmt = select(Order.status, func.count()).where(Order.created_at >= since).group_by(Order.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).tuples()}


def _via() -> Any:
    # The "channel" label: the fiat channel, else the chain, else "unpicked"
    # (a cashier order whose payer has not chosen yet).
    return func.coalesce(Order.channel, Order.chain, "unpicked")


async def orders_created(session: AsyncSession) -> dict[tuple[str, str], int]:
    stmt = select(Order.face, _via(), func.count()).group_by(Order.face, _via())
    return {(face, via): int(n) for face, via, n in (await session.execute(stmt)).tuples()}


async def orders_paid(session: AsyncSession) -> dict[tuple[str, str], int]:
    stmt = (
        select(Order.face, _via(), func.count())
        .where(Order.paid_at.is_not(None))
        .group_by(Order.face, _via())
    )
    return {(face, via): int(n) for face, via, n in (await session.execute(stmt)).tuples()}


async def transfers_by_status(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """(chain, status, reason or "") → count of transfers rows."""
    reason = func.coalesce(Transfer.reason, "")
    stmt = select(Transfer.chain, Transfer.status, reason, func.count()).group_by(
        Transfer.chain, Transfer.status, reason
    )
    return {(c, s, r): int(n) for c, s, r, n in (await session.execute(stmt)).tuples()}


async def attempts_by_outcome(session: AsyncSession) -> dict[tuple[str, str], int]:
    """(scheme, outcome) → notification attempts."""
    stmt = (
        select(Notification.scheme, NotificationAttempt.outcome, func.count())
        .join(Notification, Notification.id == NotificationAttempt.notification_id)
        .group_by(Notification.scheme, NotificationAttempt.outcome)
    )
    return {(s, o): int(n) for s, o, n in (await session.execute(stmt)).tuples()}


@dataclass(frozen=True)
class Latency:
    """Cumulative counts per bucket upper bound (seconds), like a histogram."""

    buckets: list[tuple[float, int]]
    count: int
    sum_seconds: float


async def attempt_latency(session: AsyncSession) -> Latency:
    """HTTP latency of the attempts that got an answer or timed out."""
    ms = NotificationAttempt.latency_ms
    columns = [func.sum(case((ms <= int(b * 1000), 1), else_=0)) for b in LATENCY_BUCKETS]
    stmt = select(func.count(ms), func.sum(ms), *columns).where(ms.is_not(None))
    row = (await session.execute(stmt)).one()
    buckets = [(b, int(n or 0)) for b, n in zip(LATENCY_BUCKETS, row[2:], strict=True)]
    return Latency(buckets, int(row[0] or 0), float(row[1] or 0) / 1000)


async def delivery_delays(session: AsyncSession, since: datetime) -> list[float]:
    """Seconds from enqueue to delivery for notifications delivered since
    `since` (bounded: the newest 10,000)."""
    stmt = (
        select(Notification.created_at, Notification.delivered_at)
        .where(Notification.delivered_at >= since)
        .order_by(Notification.delivered_at.desc())
        .limit(10_000)
    )
    return sorted(
        max(0.0, (done - made).total_seconds())
        for made, done in (await session.execute(stmt)).tuples()
        if done
    )


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


LAST_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class ChainStatus:
    chain: str
    enabled: bool
    head: int | None
    final_head: int | None
    next_block: int | None
    updated_at: datetime | None

    @property
    def cursor(self) -> int | None:
        """The last block ingested."""
        return None if self.next_block is None else self.next_block - 1

    @property
    def lag_blocks(self) -> int | None:
        if self.final_head is None or self.next_block is None:
            return None
        return max(0, self.final_head - self.next_block + 1)

    @property
    def lag_seconds(self) -> float | None:
        lag = self.lag_blocks
        return None if lag is None else lag * BLOCK_SECONDS.get(self.chain, 3.0)


async def chain_statuses(
    session: AsyncSession, settings: Settings, live: dict[str, Heads] | None = None
) -> list[ChainStatus]:
    cursors = {c.chain: c for c in await list_cursors(session)}
    statuses = []
    for chain in CHAINS:
        cursor = cursors.get(chain)
        heads = (live or {}).get(chain)
        statuses.append(
            ChainStatus(
                chain=chain,
                enabled=chain_enabled(settings, chain),
                head=heads.head if heads else (cursor.head if cursor else None),
                final_head=heads.final if heads else (cursor.final_head if cursor else None),
                next_block=cursor.next_block if cursor else None,
                updated_at=cursor.updated_at if cursor else None,
            )
        )
    return statuses
