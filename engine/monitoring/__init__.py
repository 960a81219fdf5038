"""The one home of the operators' figures: `figures` (the values), `queries`
(every read behind them; `exchanges` those of the exchange watchers),
`health` (UP / DEGRADED / DOWN from them).
`usdtpay status`, GET /metrics, /api/health and the console only render."""

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
from engine.monitoring.queries import (
    attempt_latency,
    attempts_by_outcome,
    chain_statuses,
    database_ok,
    delivery_delays,
    notification_backlog,
    orders_by_status,
    orders_created,
    orders_paid,
    rate_state,
    transfers_by_status,
)

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
