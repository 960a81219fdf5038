"""The one home of the operators' figures: `figures` (the values), `reads`
(the reads `usdtpay status` shows, in plain SQL; `exchanges` those of the
exchange watchers), `queries` (the other reads, for /metrics), `health`
(UP / DOWN / DEGRADED from them). `usdtpay status`, GET /metrics,
/api/health and the console only render.

Importing this package loads the figures and the plain reads only; the
SQLAlchemy reads of `queries` load on first use (PEP 562 __getattr__), so
`usdtpay status` imports no SQLAlchemy through it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.monitoring.exchanges import exchange_statuses
from engine.monitoring.figures import (
    FAILING,
    LAST_HOUR,
    LATENCY_BUCKETS,
    NEVER_STARTED,
    RUNNING,
    STOPPED,
    Backlog,
    ChainStatus,
    ExchangeStatus,
    Latency,
    RateState,
    quantile,
    rate_age_limit,
)
from engine.monitoring.reads import chain_statuses, notification_backlog, orders_by_status, rate_state

if TYPE_CHECKING:
    from engine.monitoring.queries import (
        attempt_latency,
        attempts_by_outcome,
        database_ok,
        delivery_delays,
        orders_created,
        orders_paid,
        transfers_by_status,
    )

_FROM_QUERIES = frozenset(
    {
        "attempt_latency",
        "attempts_by_outcome",
        "database_ok",
        "delivery_delays",
        "orders_created",
        "orders_paid",
        "transfers_by_status",
    }
)


def __getattr__(name: str) -> Any:
    if name in _FROM_QUERIES:
        from engine.monitoring import queries

        return getattr(queries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAILING",
    "LAST_HOUR",
    "LATENCY_BUCKETS",
    "NEVER_STARTED",
    "RUNNING",
    "STOPPED",
    "Backlog",
    "ChainStatus",
    "ExchangeStatus",
    "Latency",
    "RateState",
    "attempt_latency",
    "attempts_by_outcome",
    "chain_statuses",
    "database_ok",
    "delivery_delays",
    "exchange_statuses",
    "notification_backlog",
    "orders_by_status",
    "orders_created",
    "orders_paid",
    "quantile",
    "rate_age_limit",
    "rate_state",
    "transfers_by_status",
]
