"""Service health from the figures: the database, the chain (and exchange)
watchers, the rate and the notifier. Status is UP when all parts are
healthy, DOWN when the database is unreachable (nothing works), DEGRADED
otherwise (orders may be created but some part needs attention). /api/health
(dryad face) and the console render it; `usdtpay status` shows the same
figures (its exchange lines are exchange_part's messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from engine.config import OpsSettings, Settings
from engine.db import SessionFactory
from engine.errors import UsdtPayError
from engine.monitoring import queries
from engine.monitoring.exchanges import exchange_statuses
from engine.monitoring.figures import (
    FAILING,
    NEVER_STARTED,
    STOPPED,
    ChainStatus,
    ExchangeStatus,
    rate_age_limit,
)
from engine.rates.service import current_quote

UP, DOWN, DEGRADED = "UP", "DOWN", "DEGRADED"
# A watcher whose cursor row has not moved for this many poll intervals
# (and at least the floor) is reported stale.
STALE_POLLS = 10
STALE_FLOOR_SECONDS = 60


@dataclass
class Health:
    status: str
    message: str
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def watcher_part(s: ChainStatus, poll_seconds: float, now: datetime) -> dict[str, Any]:
    """One chain's watcher: failing and stopped are told apart from never started."""
    part: dict[str, Any] = {"status": UP, "watcher": s.watcher, "holder": s.holder}
    if s.watcher == FAILING:
        seconds = int(s.failing_seconds(now))
        part.update(
            status=DOWN,
            failing_since=_when(s.failing_since),
            failing_seconds=seconds,
            last_error=s.last_error,
            message=f"failing since {_when(s.failing_since)} ({seconds} s): {s.last_error}; "
            "check the node URL, its API keys and the network",
        )
        return part
    if s.watcher == STOPPED:
        # Before the cursor test: a watcher that stopped before it wrote one
        # did run, and "has not run yet" would send the operator the wrong way.
        part.update(_progress(s, now))
        part.update(status=DOWN, message=_stopped(s, now))
        return part
    if s.updated_at is None:
        return {**part, "status": DOWN, "message": "the watcher has not run yet; start `usdtpay watch`"}
    age = (now - s.updated_at).total_seconds()
    limit = max(STALE_FLOOR_SECONDS, STALE_POLLS * poll_seconds)
    part.update(_progress(s, now))
    if age > limit:
        part.update(
            status=DOWN, message=f"no progress for {int(age)} s; check the watcher process and its node"
        )
    return part


def _stopped(s: ChainStatus, now: datetime) -> str:
    seen = int((now - s.heartbeat_at).total_seconds()) if s.heartbeat_at else None
    read = "" if s.updated_at is not None else " before it read a block"
    return f"the watcher stopped{read} (process {s.holder}, last seen {seen} s ago)"


def _progress(s: ChainStatus, now: datetime) -> dict[str, Any]:
    if s.updated_at is None:
        return {}
    return {
        "next_block": s.next_block,
        "head": s.head,
        "seconds_since_update": int((now - s.updated_at).total_seconds()),
    }


def lag_check(s: ChainStatus, part: dict[str, Any], ops: OpsSettings) -> None:
    """Mark an UP watcher DEGRADED when it lags past ops.lag_* thresholds."""
    if s.lag_blocks is None or s.lag_seconds is None or part["status"] != UP:
        return
    part.update(lag_blocks=s.lag_blocks, lag_seconds=int(s.lag_seconds))
    block_limit = ops.lag_blocks_degraded.get(s.chain)
    if s.lag_seconds > ops.lag_seconds_degraded or (block_limit is not None and s.lag_blocks > block_limit):
        part["status"] = DEGRADED
        part["message"] = (
            f"{s.lag_blocks} final blocks (~{int(s.lag_seconds)} s) behind; the watcher is catching up "
            "or its node is slow (thresholds: ops.lag_seconds_degraded / ops.lag_blocks_degraded)"
        )


async def chain_parts(
    sessions: SessionFactory, settings: Settings, now: datetime
) -> dict[str, dict[str, Any]]:
    polls = {"tron": settings.tron.poll_seconds, "eth": settings.eth.poll_seconds}
    async with sessions() as session:
        statuses = await queries.chain_statuses(session, settings, now=now)
    parts = {}
    for s in statuses:
        if s.enabled:
            parts[s.chain] = watcher_part(s, polls[s.chain], now)
            lag_check(s, parts[s.chain], settings.ops)
    return parts


def exchange_part(s: ExchangeStatus, ops: OpsSettings, poll_seconds: float, now: datetime) -> dict[str, Any]:
    """One exchange's watcher, judged like a chain's (engine.monitoring.exchanges)."""
    part: dict[str, Any] = {
        "status": UP,
        "watcher": s.watcher,
        "holder": s.holder,
        "accounts": s.accounts,
        "unmatched": s.unmatched,
        "scanned_until": _when(s.scanned_until),
    }
    trouble = _exchange_trouble(s, part, ops, poll_seconds, now)
    if trouble is not None:
        part.update(status=trouble[0], message=trouble[1])
    return part


def _exchange_trouble(
    s: ExchangeStatus, part: dict[str, Any], ops: OpsSettings, poll_seconds: float, now: datetime
) -> tuple[str, str] | None:
    name = s.exchange
    if s.watcher == FAILING:
        seconds = int(s.failing_seconds(now))
        part.update(failing_since=_when(s.failing_since), failing_seconds=seconds, last_error=s.last_error)
        return DOWN, (
            f"failing since {_when(s.failing_since)} ({seconds} s): {s.last_error}; check the account's key "
            f"(`usdtpay exchange list`, `usdtpay exchange check ID`) and the network to {name}"
        )
    if s.accounts == 0:
        return DEGRADED, f"no enabled {name} receiving account: `usdtpay exchange add {name}`"
    if s.watcher == NEVER_STARTED:
        run = "`usdtpay run`" if s.enabled else f"`usdtpay run` with {name} in USDTPAY_EXCHANGES__ENABLED"
        return DOWN, f"the watcher has not run yet; start `usdtpay watch {name}` or {run}"
    if s.watcher == STOPPED:
        seen = int((now - s.heartbeat_at).total_seconds()) if s.heartbeat_at else None
        return DOWN, f"the watcher stopped (process {s.holder}, last seen {seen} s ago)"
    if s.lag_seconds is None or s.seconds_since_update is None:
        return DOWN, f"{s.unread} of {s.accounts} accounts not read yet; see `usdtpay exchange list`"
    part.update(lag_seconds=int(s.lag_seconds), seconds_since_update=int(s.seconds_since_update))
    if s.seconds_since_update > max(STALE_FLOOR_SECONDS, STALE_POLLS * poll_seconds):
        return DOWN, f"no successful poll for {int(s.seconds_since_update)} s; check the watcher process"
    if s.lag_seconds > ops.lag_seconds_degraded:
        return DEGRADED, (
            f"read up to {_when(s.scanned_until)} ({int(s.lag_seconds)} s behind); the watcher is "
            "catching up (threshold: ops.lag_seconds_degraded)"
        )
    return None


async def exchange_parts(
    sessions: SessionFactory, settings: Settings, now: datetime
) -> dict[str, dict[str, Any]]:
    """The exchanges in use (none: an empty dict, and /api/health is unchanged)."""
    async with sessions() as session:
        statuses = await exchange_statuses(session, settings, now)
    poll = settings.exchanges.poll_seconds
    return {s.exchange: exchange_part(s, settings.ops, poll, now) for s in statuses}


async def rate_part(sessions: SessionFactory, settings: Settings, now: datetime) -> dict[str, Any]:
    try:
        async with sessions() as session:
            quote = await current_quote(session, settings, now)
    except UsdtPayError as exc:
        return {"status": DOWN, "message": exc.message}
    age = 0 if quote.fixed else int((now - quote.fetched_at).total_seconds())
    part: dict[str, Any] = {"status": UP, "rate": str(quote.rate), "age_seconds": age}
    if age > rate_age_limit(settings):
        part["status"] = DEGRADED
        part["message"] = f"the rate is {age} s old; check the rate sources (`usdtpay rate show`)"
    return part


async def notify_part(sessions: SessionFactory, settings: Settings, now: datetime) -> dict[str, Any]:
    async with sessions() as session:
        backlog = await queries.notification_backlog(session, now)
    overdue = int(backlog.oldest_due_seconds(now))
    part: dict[str, Any] = {"status": UP, "pending": backlog.pending, "oldest_due_seconds": overdue}
    if overdue > settings.ops.notify_oldest_due_degraded_seconds:
        part["status"] = DEGRADED
        part["message"] = f"a due notification waits for {overdue} s; is the notifier running?"
    return part


async def check(sessions: SessionFactory, settings: Settings, now: datetime) -> Health:
    try:
        async with sessions() as session:
            await queries.database_ok(session)
    except (SQLAlchemyError, OSError) as exc:
        message = f"database unreachable ({type(exc).__name__}); check USDTPAY_DATABASE_URL and the server"
        return Health(DOWN, message, {"database": {"status": DOWN}})
    chains = await chain_parts(sessions, settings, now)
    exchanges = await exchange_parts(sessions, settings, now)
    states = {part["status"] for part in [*chains.values(), *exchanges.values()]}
    watchers: dict[str, Any] = {
        "status": DOWN if DOWN in states else DEGRADED if DEGRADED in states else UP,
        "chains": chains,
    }
    if exchanges:
        watchers["exchanges"] = exchanges
    parts: dict[str, dict[str, Any]] = {
        "database": {"status": UP},
        "watchers": watchers,
        "rate": await rate_part(sessions, settings, now),
        "notifications": await notify_part(sessions, settings, now),
    }
    troubled = [name for name, part in parts.items() if part["status"] != UP]
    if not troubled:
        return Health(UP, "all parts healthy", parts)
    return Health(DEGRADED, f"needs attention: {', '.join(troubled)}", parts)
