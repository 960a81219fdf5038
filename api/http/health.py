"""Service health: the database, the chain watchers and the rate.

One function computes it so every face that reports health (dryad's
/api/health, operators' tools) says the same thing. Status is UP when all
parts are healthy, DOWN when the database is unreachable (nothing works),
DEGRADED otherwise (orders may be created but some part needs attention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from api.http.state import AppState
from engine.chain import BLOCK_SECONDS
from engine.config import EthSettings, OpsSettings, TronSettings
from engine.errors import UsdtPayError
from engine.models import ChainCursor
from engine.monitoring import notification_backlog, rate_age_limit
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


def _watcher_part(cursor: ChainCursor | None, poll_seconds: float, now: datetime) -> dict[str, Any]:
    if cursor is None:
        return {"status": DOWN, "message": "the watcher has not run yet; start `usdtpay watch`"}
    age = (now - cursor.updated_at).total_seconds()
    limit = max(STALE_FLOOR_SECONDS, STALE_POLLS * poll_seconds)
    part: dict[str, Any] = {
        "status": UP if age <= limit else DOWN,
        "next_block": cursor.next_block,
        "head": cursor.head,
        "seconds_since_update": int(age),
    }
    if age > limit:
        part["message"] = f"no progress for {int(age)} s; check the watcher process and its node"
    return part


def _lag_check(chain: str, part: dict[str, Any], cursor: ChainCursor | None, ops: OpsSettings) -> None:
    """Mark an UP watcher DEGRADED when it lags past ops.lag_* thresholds."""
    if cursor is None or cursor.final_head is None or part["status"] != UP:
        return
    lag_blocks = max(0, cursor.final_head - cursor.next_block + 1)
    lag_seconds = lag_blocks * BLOCK_SECONDS.get(chain, 3.0)
    part.update(lag_blocks=lag_blocks, lag_seconds=int(lag_seconds))
    block_limit = ops.lag_blocks_degraded.get(chain)
    if lag_seconds > ops.lag_seconds_degraded or (block_limit is not None and lag_blocks > block_limit):
        part["status"] = DEGRADED
        part["message"] = (
            f"{lag_blocks} final blocks (~{int(lag_seconds)} s) behind; the watcher is catching up "
            "or its node is slow (thresholds: ops.lag_seconds_degraded / ops.lag_blocks_degraded)"
        )


async def _chain_parts(state: AppState, now: datetime) -> dict[str, dict[str, Any]]:
    polls: dict[str, TronSettings | EthSettings] = {"tron": state.settings.tron, "eth": state.settings.eth}
    enabled = {chain: cfg.poll_seconds for chain, cfg in polls.items() if cfg.enabled}
    async with state.sessions() as session:
        rows = {c.chain: c for c in await session.scalars(select(ChainCursor))}
    parts = {chain: _watcher_part(rows.get(chain), poll, now) for chain, poll in enabled.items()}
    for chain, part in parts.items():
        _lag_check(chain, part, rows.get(chain), state.settings.ops)
    return parts


async def _rate_part(state: AppState, now: datetime) -> dict[str, Any]:
    try:
        async with state.sessions() as session:
            quote = await current_quote(session, state.settings, now)
    except UsdtPayError as exc:
        return {"status": DOWN, "message": exc.message}
    age = 0 if quote.fixed else int((now - quote.fetched_at).total_seconds())
    part: dict[str, Any] = {"status": UP, "rate": str(quote.rate), "age_seconds": age}
    if age > rate_age_limit(state.settings):
        part["status"] = DEGRADED
        part["message"] = f"the rate is {age} s old; check the rate sources (`usdtpay rate show`)"
    return part


async def _notify_part(state: AppState, now: datetime) -> dict[str, Any]:
    async with state.sessions() as session:
        backlog = await notification_backlog(session, now)
    overdue = int(backlog.oldest_due_seconds(now))
    part: dict[str, Any] = {"status": UP, "pending": backlog.pending, "oldest_due_seconds": overdue}
    if overdue > state.settings.ops.notify_oldest_due_degraded_seconds:
        part["status"] = DEGRADED
        part["message"] = f"a due notification waits for {overdue} s; is the notifier running?"
    return part


async def check(state: AppState) -> Health:
    now = state.now()
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        message = f"database unreachable ({type(exc).__name__}); check USDTPAY_DATABASE_URL and the server"
        return Health(DOWN, message, {"database": {"status": DOWN}})
    chains = await _chain_parts(state, now)
    states = {part["status"] for part in chains.values()}
    watchers = DOWN if DOWN in states else DEGRADED if DEGRADED in states else UP
    parts: dict[str, dict[str, Any]] = {
        "database": {"status": UP},
        "watchers": {"status": watchers, "chains": chains},
        "rate": await _rate_part(state, now),
        "notifications": await _notify_part(state, now),
    }
    troubled = [name for name, part in parts.items() if part["status"] != UP]
    if not troubled:
        return Health(UP, "all parts healthy", parts)
    return Health(DEGRADED, f"needs attention: {', '.join(troubled)}", parts)
