"""The exchange watchers' figures (engine.monitoring.figures.ExchangeStatus):
the reads behind them, beside engine.monitoring.reads' chains and in the same
plain SQL (engine.rows), so `usdtpay status` reads them without SQLAlchemy
too. Only exchanges in use appear: listed in exchanges.enabled or holding an
enabled receiving account, so a deployment without any shows nothing new."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.leases import EXCHANGE_MAX_BACKOFF_S, stale_after
from engine.monitoring.figures import ExchangeStatus
from engine.monitoring.reads import LEASES, LeaseRow, leases, watcher_state
from engine.rows import Rows, rows_of, utc, utc_required

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from engine.config import Settings

ACCOUNTS = "SELECT id, exchange FROM exchange_accounts WHERE enabled ORDER BY id"
CURSORS = """
SELECT account_id, scanned_until, open_since, records, updated_at
FROM exchange_cursors WHERE account_id IN (:ids)
"""
EXCHANGE_LEASES = LEASES + " WHERE chain IN (:used)"
UNMATCHED = """
SELECT chain, COUNT(*) FROM transfers WHERE chain IN (:exchanges) AND status != 'matched' GROUP BY chain
"""


class CursorRow(NamedTuple):
    """An exchange_cursors row, as _status reads it."""

    account_id: int
    scanned_until: datetime
    open_since: datetime | None
    records: int
    updated_at: datetime


def _seconds(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


async def _unmatched(rows: Rows, exchanges: list[str]) -> dict[str, int]:
    return {chain: int(n) for chain, n in await rows.fetch(UNMATCHED, {"exchanges": exchanges})}


async def _cursors(rows: Rows, ids: list[int]) -> dict[int, CursorRow]:
    found = await rows.fetch(CURSORS, {"ids": ids})
    return {
        account: CursorRow(account, utc_required(until), utc(since), records, utc_required(updated))
        for account, until, since, records, updated in found
    }


def _status(
    exchange: str,
    settings: Settings,
    accounts: list[Any],  # enabled receiving accounts: rows of (id, exchange)
    cursors: list[CursorRow],
    lease: LeaseRow | None,
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


async def exchange_statuses(
    source: AsyncSession | Rows, settings: Settings, now: datetime
) -> list[ExchangeStatus]:
    """Every exchange in use, in EXCHANGES order; `now` tells a stopped
    watcher from a running one and measures the lag."""
    rows = rows_of(source)
    accounts = await rows.fetch(ACCOUNTS)  # (id, exchange) of each enabled account
    in_use = set(settings.exchanges.enabled) | {exchange for _, exchange in accounts}
    if not in_use:
        return []
    # Imported only when an exchange is in use: `usdtpay status` without
    # one loads nothing of the exchanges.
    from engine.exchanges.ports import EXCHANGES

    used = [e for e in EXCHANGES if e in in_use]
    cursors = await _cursors(rows, [account_id for account_id, _ in accounts])
    held = await leases(rows, EXCHANGE_LEASES, {"used": used})
    unmatched = await _unmatched(rows, used)
    statuses = []
    for exchange in used:
        mine = [a for a in accounts if a[1] == exchange]
        read = [cursors[a[0]] for a in mine if a[0] in cursors]
        lease, n = held.get(exchange), unmatched.get(exchange, 0)
        statuses.append(_status(exchange, settings, mine, read, lease, n, now))
    return statuses
