"""Every database read behind the operators' figures (engine.monitoring.figures):
the chains and their watchers, the notification backlog, the rate, orders,
transfers and delivery attempts. `usdtpay status`, GET /metrics, /api/health
and the console all read them here, so they agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import CHAINS, Heads, chain_enabled
from engine.config import Settings
from engine.models import Notification, NotificationAttempt, Order, Transfer, WatcherLease
from engine.monitoring.figures import (
    FAILING,
    LATENCY_BUCKETS,
    NEVER_STARTED,
    RUNNING,
    STOPPED,
    Backlog,
    ChainStatus,
    Latency,
    RateState,
)
from engine.rates.queries import latest
from engine.settlement import list_cursors
from engine.settlement.lease import is_live, stale_after


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


async def rate_state(session: AsyncSession, settings: Settings) -> RateState:
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        return RateState(str(fixed), None, {"fixed": str(fixed)}, fixed=True)
    snapshot = await latest(session)
    if snapshot is None:
        return RateState(None, None)
    return RateState(snapshot.rate, snapshot.fetched_at, {k: str(v) for k, v in snapshot.sources.items()})


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


def _poll_seconds(settings: Settings, chain: str) -> float:
    group = settings.eth if chain == "eth" else settings.tron
    return float(group.poll_seconds)


def _watcher(lease: WatcherLease | None, now: datetime | None, poll_seconds: float) -> str:
    if lease is None:
        return NEVER_STARTED
    if now is not None and not is_live(lease, now, stale_after(poll_seconds)):
        return STOPPED
    return FAILING if lease.failing_since is not None else RUNNING


async def chain_statuses(
    session: AsyncSession,
    settings: Settings,
    live: dict[str, Heads] | None = None,
    now: datetime | None = None,
) -> list[ChainStatus]:
    """Every chain's cursor and watcher; `now` tells a stopped watcher (its
    lease not beaten for a while) from a running one."""
    cursors = {c.chain: c for c in await list_cursors(session)}
    leases = {w.chain: w for w in await session.scalars(select(WatcherLease))}
    statuses = []
    for chain in CHAINS:
        cursor, lease = cursors.get(chain), leases.get(chain)
        heads = (live or {}).get(chain)
        statuses.append(
            ChainStatus(
                chain=chain,
                enabled=chain_enabled(settings, chain),
                head=heads.head if heads else (cursor.head if cursor else None),
                final_head=heads.final if heads else (cursor.final_head if cursor else None),
                next_block=cursor.next_block if cursor else None,
                updated_at=cursor.updated_at if cursor else None,
                watcher=_watcher(lease, now, _poll_seconds(settings, chain)),
                holder=lease.holder if lease else None,
                heartbeat_at=lease.heartbeat_at if lease else None,
                failing_since=lease.failing_since if lease else None,
                last_error=lease.last_error if lease else None,
                errors=lease.errors if lease else 0,
                blocks_processed=cursor.blocks_processed if cursor else 0,
            )
        )
    return statuses
