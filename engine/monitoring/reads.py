"""The reads behind `usdtpay status`'s figures, as plain SQL (engine.rows):
the chains and their watchers, the notification backlog, the rate, orders
of the last hour. /api/health, /metrics and the console call the same
functions with their session; `usdtpay status` with the driver alone
(aiosqlite or asyncpg), so it loads no SQLAlchemy (issue 15's start-up).
Each statement is one text for SQLite and PostgreSQL, and its values are
converted in one place, so every caller sees the same figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.chain import CHAINS, Heads, chain_enabled
from engine.leases import is_live, stale_after
from engine.monitoring.figures import (
    FAILING,
    NEVER_STARTED,
    RUNNING,
    STOPPED,
    Backlog,
    ChainStatus,
    RateState,
)
from engine.rows import Params, Rows, flag, json_value, rows_of, utc, utc_required

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from engine.config import Settings

# The MIN is of the stored value (SQLite: text, which orders as the time does);
# utc() reads it as the column type would.
BACKLOG = """
SELECT
    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'pending' AND next_attempt_at <= :now THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
    MIN(CASE WHEN status = 'pending' AND next_attempt_at <= :now THEN next_attempt_at END)
FROM notifications
"""
NEWEST_RATE = "SELECT rate, fetched_at, sources FROM rate_snapshots ORDER BY fetched_at DESC, id DESC LIMIT 1"
ORDERS_BY_STATUS = "SELECT status, COUNT(*) FROM orders WHERE created_at >= :since GROUP BY status"
CURSORS = "SELECT chain, next_block, head, final_head, updated_at, blocks_processed FROM chain_cursors"
LEASES = "SELECT chain, holder, heartbeat_at, released, failing_since, last_error, errors FROM watcher_leases"


class LeaseRow(NamedTuple):
    """A watcher_leases row as engine.leases and watcher_state read it."""

    chain: str
    holder: str
    heartbeat_at: datetime
    released: bool
    failing_since: datetime | None
    last_error: str | None
    errors: int


def _lease(row: tuple[Any, ...]) -> LeaseRow:
    chain, holder, heartbeat_at, released, failing_since, last_error, errors = row
    beat = utc_required(heartbeat_at)
    return LeaseRow(chain, holder, beat, flag(released), utc(failing_since), last_error, errors)


async def leases(rows: Rows, sql: str = LEASES, params: Params | None = None) -> dict[str, LeaseRow]:
    """Each watcher's lease by chain (or exchange) name; `sql` may narrow LEASES."""
    return {row[0]: _lease(row) for row in await rows.fetch(sql, params)}


async def notification_backlog(source: AsyncSession | Rows, now: datetime) -> Backlog:
    ((pending, due, failed, oldest),) = await rows_of(source).fetch(BACKLOG, {"now": now})
    return Backlog(int(pending or 0), int(due or 0), utc(oldest), int(failed or 0))


async def rate_state(source: AsyncSession | Rows, settings: Settings) -> RateState:
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        return RateState(str(fixed), None, {"fixed": str(fixed)}, fixed=True)
    found = await rows_of(source).fetch(NEWEST_RATE)
    if not found:
        return RateState(None, None)
    ((rate, fetched_at, sources),) = found
    return RateState(rate, utc(fetched_at), {k: str(v) for k, v in json_value(sources).items()})


async def orders_by_status(source: AsyncSession | Rows, since: datetime) -> dict[str, int]:
    """Orders created since `since`, counted by their status now."""
    found = await rows_of(source).fetch(ORDERS_BY_STATUS, {"since": since})
    return {status: int(n) for status, n in found}


def watcher_state(lease: Any, now: datetime | None, stale: timedelta) -> str:
    """Running / failing / stopped / never started, from a chain's or an
    exchange's lease (a LeaseRow, or None); without `now`, a stopped
    watcher is not told apart."""
    if lease is None:
        return NEVER_STARTED
    if now is not None and not is_live(lease, now, stale):
        return STOPPED
    return FAILING if lease.failing_since is not None else RUNNING


def _poll_seconds(settings: Settings, chain: str) -> float:
    group = settings.eth if chain == "eth" else settings.tron
    return float(group.poll_seconds)


async def chain_statuses(
    source: AsyncSession | Rows,
    settings: Settings,
    live: dict[str, Heads] | None = None,
    now: datetime | None = None,
) -> list[ChainStatus]:
    """Every chain's cursor and watcher; `now` tells a stopped watcher (its
    lease not beaten for a while) from a running one."""
    rows = rows_of(source)
    cursors = {row[0]: row for row in await rows.fetch(CURSORS)}
    held = await leases(rows)
    statuses = []
    for chain in CHAINS:
        cursor, lease = cursors.get(chain), held.get(chain)
        _, next_block, head, final_head, updated_at, processed = cursor or (chain, None, None, None, None, 0)
        heads = (live or {}).get(chain)
        statuses.append(
            ChainStatus(
                chain=chain,
                enabled=chain_enabled(settings, chain),
                head=heads.head if heads else head,
                final_head=heads.final if heads else final_head,
                next_block=next_block,
                updated_at=utc(updated_at),
                watcher=watcher_state(lease, now, stale_after(_poll_seconds(settings, chain))),
                holder=lease.holder if lease else None,
                heartbeat_at=lease.heartbeat_at if lease else None,
                failing_since=lease.failing_since if lease else None,
                last_error=lease.last_error if lease else None,
                errors=lease.errors if lease else 0,
                blocks_processed=processed,
            )
        )
    return statuses
