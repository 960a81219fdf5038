"""The exchange watchers' figures (engine.monitoring.figures.ExchangeStatus):
the reads behind them, beside engine.monitoring.queries' chains. Only
exchanges in use appear: listed in exchanges.enabled or holding an enabled
receiving account, so a deployment without any shows nothing new."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.config import Settings
from engine.models import ExchangeAccount, ExchangeCursor, Transfer, WatcherLease
from engine.monitoring.figures import ExchangeStatus
from engine.monitoring.queries import watcher_state
from engine.settlement.lease import EXCHANGE_MAX_BACKOFF_S, stale_after

_ACCOUNTS = cast(Table, ExchangeAccount.__table__)


def _seconds(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


async def _unmatched(session: AsyncSession, exchanges: list[str]) -> dict[str, int]:
    stmt = (
        select(Transfer.chain, func.count())
        .where(Transfer.chain.in_(exchanges), Transfer.status != "matched")
        .group_by(Transfer.chain)
    )
    return {chain: int(n) for chain, n in (await session.execute(stmt)).tuples()}


def _status(
    exchange: str,
    settings: Settings,
    accounts: list[Any],  # enabled receiving accounts: rows of (id, exchange)
    cursors: list[ExchangeCursor],
    lease: WatcherLease | None,
    unmatched: int,
    now: datetime,
) -> ExchangeStatus:
    read = len(cursors) == len(accounts) and bool(cursors)
    until = min((c.scanned_until for c in cursors), default=None) if read else None
    updated = min((c.updated_at for c in cursors), default=None) if read else None
    waiting = [c.open_since for c in cursors if c.open_since is not None]
    stale = stale_after(settings.exchanges.poll_seconds, EXCHANGE_MAX_BACKOFF_S)
    return ExchangeStatus(
        exchange=exchange,
        enabled=exchange in settings.exchanges.enabled,
        accounts=len(accounts),
        unread=len(accounts) - len(cursors),
        scanned_until=until,
        open_since=min(waiting, default=None),
        updated_at=updated,
        lag_seconds=_seconds(now, until),
        seconds_since_update=_seconds(now, updated),
        records=sum(c.records for c in cursors),
        unmatched=unmatched,
        watcher=watcher_state(lease, now, stale),
        holder=lease.holder if lease else None,
        heartbeat_at=lease.heartbeat_at if lease else None,
        failing_since=lease.failing_since if lease else None,
        last_error=lease.last_error if lease else None,
        errors=lease.errors if lease else 0,
    )


async def exchange_statuses(session: AsyncSession, settings: Settings, now: datetime) -> list[ExchangeStatus]:
    """Every exchange in use, in EXCHANGES order; `now` tells a stopped
    watcher from a running one and measures the lag."""
    # The table, not the mapped class: `usdtpay status` on a deployment
    # without exchanges then sets up no ORM mappers (issue 15's start-up).
    enabled = select(_ACCOUNTS.c.id, _ACCOUNTS.c.exchange).where(_ACCOUNTS.c.enabled.is_(True))
    accounts = list(await session.execute(enabled.order_by(_ACCOUNTS.c.id)))
    in_use = set(settings.exchanges.enabled) | {a.exchange for a in accounts}
    if not in_use:
        return []
    # Imported only when an exchange is in use, for the same reason.
    from engine.exchanges.ports import EXCHANGES

    used = [e for e in EXCHANGES if e in in_use]
    ids = [a.id for a in accounts]
    rows = await session.scalars(select(ExchangeCursor).where(ExchangeCursor.account_id.in_(ids)))
    cursors = {c.account_id: c for c in rows}
    held = await session.scalars(select(WatcherLease).where(WatcherLease.chain.in_(used)))
    leases = {w.chain: w for w in held}
    unmatched = await _unmatched(session, used)
    statuses = []
    for exchange in used:
        mine = [a for a in accounts if a.exchange == exchange]
        read = [cursors[a.id] for a in mine if a.id in cursors]
        lease, n = leases.get(exchange), unmatched.get(exchange, 0)
        statuses.append(_status(exchange, settings, mine, read, lease, n, now))
    return statuses
