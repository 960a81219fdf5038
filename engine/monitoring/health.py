"""Service health from the figures: the database, the chain (and exchange)
watchers, the rate and the notifier. Status is UP when all parts are
healthy, DOWN when the database is unreachable (nothing works), DEGRADED
otherwise (orders may be created but some part needs attention). /api/health
(dryad face) and the console render it; `usdtpay status` shows the same
figures (its exchange lines are exchange_part's messages). How one part is
judged is engine.monitoring.parts (no database there, so `usdtpay status`
judges its exchanges without loading SQLAlchemy); here the parts are read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from engine.config import Settings
from engine.db import SessionFactory
from engine.errors import UsdtPayError
from engine.monitoring import queries, reads
from engine.monitoring.exchanges import exchange_statuses
from engine.monitoring.figures import rate_age_limit

# UP / DOWN / DEGRADED are re-exported: /api/health answers with them.
from engine.monitoring.parts import DEGRADED as DEGRADED
from engine.monitoring.parts import DOWN as DOWN
from engine.monitoring.parts import UP as UP
from engine.monitoring.parts import exchange_part, lag_check, watcher_part
from engine.rates.service import current_quote


@dataclass
class Health:
    status: str
    message: str
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)


async def chain_parts(
    sessions: SessionFactory, settings: Settings, now: datetime
) -> dict[str, dict[str, Any]]:
    polls = {"tron": settings.tron.poll_seconds, "eth": settings.eth.poll_seconds}
    async with sessions() as session:
        statuses = await reads.chain_statuses(session, settings, now=now)
    parts = {}
    for s in statuses:
        if s.enabled:
            parts[s.chain] = watcher_part(s, polls[s.chain], now)
            lag_check(s, parts[s.chain], settings.ops)
    return parts


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
        backlog = await reads.notification_backlog(session, now)
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
