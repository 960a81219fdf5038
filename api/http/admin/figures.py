"""The dashboard's figures, from the same functions as `usdtpay status`,
/api/health and /metrics (engine.monitoring, api.http.health); only the
paid volume per chain and channel is the console's own query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.http import health
from api.http.state import AppState
from engine import monitoring
from engine.admin import queries
from engine.admin.queries import Volume


@dataclass(frozen=True)
class Dashboard:
    since: datetime  # local midnight, in UTC
    created: int
    by_status: dict[str, int]
    volume: list[Volume]
    chains: list[monitoring.ChainStatus]
    chain_health: dict[str, dict[str, Any]]
    exchanges: list[monitoring.ExchangeStatus]  # in use only: none, no table
    exchange_health: dict[str, dict[str, Any]]
    backlog: monitoring.Backlog
    rate: monitoring.RateState
    rate_age: float | None
    rate_limit: int
    health: health.Health


def start_of_today(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def dashboard(app_state: AppState) -> Dashboard:
    now = app_state.now()
    settings = app_state.settings
    since = start_of_today(now, settings.timezone)
    async with app_state.sessions() as session:
        by_status = await monitoring.orders_by_status(session, since)
        volume = await queries.paid_volume(session, since)
        chains = await monitoring.chain_statuses(session, settings)
        exchanges = await monitoring.exchange_statuses(session, settings, now)
        backlog = await monitoring.notification_backlog(session, now)
        rate = await monitoring.rate_state(session, settings)
    checked = await health.check(app_state)
    watchers = checked.parts.get("watchers", {})
    return Dashboard(
        since=since,
        created=sum(by_status.values()),
        by_status=by_status,
        volume=volume,
        chains=chains,
        chain_health=watchers.get("chains", {}),
        exchanges=exchanges,
        exchange_health=watchers.get("exchanges", {}),
        backlog=backlog,
        rate=rate,
        rate_age=rate.age_seconds(now),
        rate_limit=monitoring.rate_age_limit(settings),
        health=checked,
    )
