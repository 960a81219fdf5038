"""The database reads behind the operators' figures (engine.monitoring.figures)
that only GET /metrics and /api/health make: orders created and paid,
transfers, delivery attempts and their latency, the database check. Those
`usdtpay status` shows too (chains, backlog, rate, orders of the last hour)
are in engine.monitoring.reads, as plain SQL, so the command needs no
SQLAlchemy; every caller reads each figure in one place, so they agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import Notification, NotificationAttempt, Order, Transfer
from engine.monitoring.figures import LATENCY_BUCKETS, Latency


def _via() -> Any:
    # The "channel" label: the fiat channel, else the chain, else "unpicked"
    # (a cashier order whose payer has not chosen yet).
    return func.coalesce(Order.channel, Order.chain, "unpicked")


# One `_via()` per statement: two would bind "unpicked" twice ($1, $2), and
# PostgreSQL then refuses the GROUP BY as not the selected expression.
async def orders_created(session: AsyncSession) -> dict[tuple[str, str], int]:
    via = _via()
    stmt = select(Order.face, via, func.count()).group_by(Order.face, via)
    return {(face, v): int(n) for face, v, n in (await session.execute(stmt)).tuples()}


async def orders_paid(session: AsyncSession) -> dict[tuple[str, str], int]:
    via = _via()
    stmt = select(Order.face, via, func.count()).where(Order.paid_at.is_not(None)).group_by(Order.face, via)
    return {(face, v): int(n) for face, v, n in (await session.execute(stmt)).tuples()}


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


async def database_ok(session: AsyncSession) -> None:
    """Raises (SQLAlchemyError, OSError) when the database does not answer."""
    await session.execute(text("SELECT 1"))
