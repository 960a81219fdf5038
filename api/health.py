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

from api.state import AppState
from engine.errors import UsdtPayError
from engine.models import ChainCursor
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


async def _chain_parts(state: AppState, now: datetime) -> dict[str, dict[str, Any]]:
    polls = {"tron": state.settings.tron, "eth": state.settings.eth}
    enabled = {chain: cfg.poll_seconds for chain, cfg in polls.items() if cfg.enabled}
    async with state.sessions() as session:
        rows = {c.chain: c for c in await session.scalars(select(ChainCursor))}
    return {chain: _watcher_part(rows.get(chain), poll, now) for chain, poll in enabled.items()}


async def _rate_part(state: AppState, now: datetime) -> dict[str, Any]:
    try:
        async with state.sessions() as session:
            quote = await current_quote(session, state.settings, now)
    except UsdtPayError as exc:
        return {"status": DOWN, "message": exc.message}
    return {"status": UP, "rate": str(quote.rate)}


async def check(state: AppState) -> Health:
    now = state.now()
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        message = f"database unreachable ({type(exc).__name__}); check USDTPAY_DATABASE_URL and the server"
        return Health(DOWN, message, {"database": {"status": DOWN}})
    chains = await _chain_parts(state, now)
    watchers_ok = all(part["status"] == UP for part in chains.values())
    parts: dict[str, dict[str, Any]] = {
        "database": {"status": UP},
        "watchers": {"status": UP if watchers_ok else DOWN, "chains": chains},
        "rate": await _rate_part(state, now),
    }
    troubled = [name for name, part in parts.items() if part["status"] != UP]
    if not troubled:
        return Health(UP, "all parts healthy", parts)
    return Health(DEGRADED, f"needs attention: {', '.join(troubled)}", parts)
