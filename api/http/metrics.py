"""GET /metrics in the Prometheus text format.

A registry per process holds the process's own metrics; the business
figures are computed from the database at scrape time (one short session)
and handed to a custom collector, so every API process reports the same
numbers whichever one Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from litestar import Request, Response, Router, get
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from api.http.faces.common import is_trusted
from api.http.state import AppState
from api.http.wire import client_ip
from engine import monitoring
from engine.monitoring import (
    FAILING,
    LAST_HOUR,
    NEVER_STARTED,
    RUNNING,
    STOPPED,
    Backlog,
    ChainStatus,
    ExchangeStatus,
    Latency,
    RateState,
    chain_statuses,
    exchange_statuses,
)


@dataclass
class Snapshot:
    """Everything the collector reports, read from the database at once."""

    now: datetime
    chains: list[ChainStatus] = field(default_factory=list)
    exchanges: list[ExchangeStatus] = field(default_factory=list)  # in use only
    blocks_processed: dict[str, int] = field(default_factory=dict)
    transfers: dict[tuple[str, str, str], int] = field(default_factory=dict)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    latency: Latency | None = None
    delays: list[float] = field(default_factory=list)
    backlog: Backlog | None = None
    rate: RateState | None = None
    created: dict[tuple[str, str], int] = field(default_factory=dict)
    paid: dict[tuple[str, str], int] = field(default_factory=dict)
    last_hour: dict[str, int] = field(default_factory=dict)


async def read_snapshot(state: AppState) -> Snapshot:
    now = state.now()
    snap = Snapshot(now=now)
    async with state.sessions() as session:
        snap.chains = await chain_statuses(session, state.settings, now=now)
        snap.blocks_processed = {c.chain: c.blocks_processed for c in snap.chains if c.next_block is not None}
        snap.exchanges = await exchange_statuses(session, state.settings, now)
        snap.transfers = await monitoring.transfers_by_status(session)
        snap.attempts = await monitoring.attempts_by_outcome(session)
        snap.latency = await monitoring.attempt_latency(session)
        snap.delays = await monitoring.delivery_delays(session, now - LAST_HOUR)
        snap.backlog = await monitoring.notification_backlog(session, now)
        snap.rate = await monitoring.rate_state(session, state.settings)
        snap.created = await monitoring.orders_created(session)
        snap.paid = await monitoring.orders_paid(session)
        snap.last_hour = await monitoring.orders_by_status(session, now - LAST_HOUR)
    return snap


def _gauge(name: str, doc: str, labels: list[str], values: dict[tuple[str, ...], float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _counter(name: str, doc: str, labels: list[str], values: dict[Any, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


def chain_metrics(snap: Snapshot) -> Iterator[Metric]:
    enabled = [s for s in snap.chains if s.enabled or s.next_block is not None]
    yield from watcher_metrics(snap)

    # An enabled chain whose watcher never wrote its cursor has been behind
    # forever: +Inf, so "seconds_since_update > 120" alerts from the start.
    def since_update(s: ChainStatus) -> float | None:
        return INF if s.updated_at is None else (snap.now - s.updated_at).total_seconds()

    def lag_seconds(s: ChainStatus) -> float | None:
        return INF if s.next_block is None else s.lag_seconds

    figures: dict[str, tuple[str, Callable[[ChainStatus], float | None]]] = {
        "usdtpay_watcher_head_block": ("newest block the node reported", lambda s: s.head),
        "usdtpay_watcher_final_block": ("newest final block the node reported", lambda s: s.final_head),
        "usdtpay_watcher_cursor_block": ("last block ingested", lambda s: s.cursor),
        "usdtpay_watcher_lag_blocks": ("final blocks not ingested yet", lambda s: s.lag_blocks),
        "usdtpay_watcher_lag_seconds": ("the lag in blocks times the block interval", lag_seconds),
        "usdtpay_watcher_seconds_since_update": (
            "time since the watcher last wrote its cursor",
            since_update,
        ),
    }
    # An exchange's cursor is a time: its lag is now minus that time, +Inf
    # (like a chain's) until every enabled account has been read once.
    by_exchange: dict[str, Callable[[ExchangeStatus], float]] = {
        "usdtpay_watcher_lag_seconds": lambda e: _or_inf(e.lag_seconds),
        "usdtpay_watcher_seconds_since_update": lambda e: _or_inf(e.seconds_since_update),
    }
    for name, (doc, pick) in figures.items():
        values: dict[tuple[str, ...], float] = {
            (s.chain,): float(v) for s in enabled if (v := pick(s)) is not None
        }
        if name in by_exchange:
            values.update({(e.exchange,): by_exchange[name](e) for e in snap.exchanges})
        yield _gauge(name, doc, ["chain"], values)
    yield _counter(
        "usdtpay_watcher_blocks_processed", "blocks the watcher scanned", ["chain"], snap.blocks_processed
    )
    yield _counter(
        "usdtpay_transfers",
        "USDT transfers recorded, by outcome",
        ["chain", "status", "reason"],
        snap.transfers,
    )
    unmatched: dict[tuple[str, ...], float] = {}
    for (chain, status, _), n in snap.transfers.items():
        if status != "matched":
            unmatched[(chain,)] = unmatched.get((chain,), 0) + n
    yield _gauge("usdtpay_transfers_unmatched", "transfers that settled no order", ["chain"], unmatched)


def _or_inf(value: float | None) -> float:
    return INF if value is None else value


def watcher_metrics(snap: Snapshot) -> Iterator[Metric]:
    """Each enabled chain's watcher, then each exchange's in use (label
    chain = okx / binance / htx), from its lease: up, failing and for how long."""
    leases: list[tuple[str, ChainStatus | ExchangeStatus]] = [
        *((s.chain, s) for s in snap.chains if s.enabled),
        *((e.exchange, e) for e in snap.exchanges),
    ]
    state = GaugeMetricFamily(
        "usdtpay_watcher_state",
        "1 for the watcher's state (running, failing, stopped, never started)",
        labels=["chain", "state"],
    )
    for chain, s in leases:
        for name in (RUNNING, FAILING, STOPPED, NEVER_STARTED):
            state.add_metric([chain, name], 1.0 if s.watcher == name else 0.0)
    yield state
    yield _gauge(
        "usdtpay_watcher_up",
        "1 while the watcher runs and its last step succeeded",
        ["chain"],
        {(chain,): 1.0 if s.watcher == RUNNING else 0.0 for chain, s in leases},
    )
    yield _gauge(
        "usdtpay_watcher_failing_seconds",
        "how long the watcher has failed without a success (0 when it is not failing)",
        ["chain"],
        {(chain,): s.failing_seconds(snap.now) if s.watcher == FAILING else 0.0 for chain, s in leases},
    )
    yield _counter(
        "usdtpay_watcher_errors", "failed watcher steps", ["chain"], {chain: s.errors for chain, s in leases}
    )
    if snap.exchanges:  # the exchange-only series exist only where exchanges are in use
        yield from exchange_metrics(snap.exchanges)


def exchange_metrics(exchanges: list[ExchangeStatus]) -> Iterator[Metric]:
    """What only an exchange watcher has: a time cursor, accounts, records read."""
    yield _gauge(
        "usdtpay_watcher_cursor_timestamp_seconds",
        "every enabled account of the exchange is read up to this time (unix seconds)",
        ["chain"],
        {(e.exchange,): e.scanned_until.timestamp() for e in exchanges if e.scanned_until is not None},
    )
    yield _gauge(
        "usdtpay_watcher_accounts",
        "enabled receiving accounts of the exchange",
        ["chain"],
        {(e.exchange,): float(e.accounts) for e in exchanges},
    )
    yield _counter(
        "usdtpay_watcher_records_read",
        "exchange records read (a re-read overlap counts again)",
        ["chain"],
        {e.exchange: e.records for e in exchanges},
    )


def notify_metrics(snap: Snapshot) -> Iterator[Metric]:
    yield _counter(
        "usdtpay_notification_attempts",
        "merchant notification attempts",
        ["scheme", "outcome"],
        snap.attempts,
    )
    if snap.latency is not None:
        hist = HistogramMetricFamily(
            "usdtpay_notification_attempt_latency_seconds", "HTTP latency of notification attempts"
        )
        buckets = [(str(b), float(n)) for b, n in snap.latency.buckets] + [
            ("+Inf", float(snap.latency.count))
        ]
        hist.add_metric([], buckets, snap.latency.sum_seconds)
        yield hist
    delay = GaugeMetricFamily(
        "usdtpay_notification_delivery_delay_seconds",
        "time from the state change to delivery, over the last hour",
        labels=["quantile"],
    )
    for q in ("0.5", "0.9", "0.99"):
        delay.add_metric([q], monitoring.quantile(snap.delays, float(q)))
    yield delay
    if snap.backlog is not None:
        b = snap.backlog
        yield GaugeMetricFamily("usdtpay_notifications_pending", "notifications not delivered yet", b.pending)
        yield GaugeMetricFamily("usdtpay_notifications_due", "pending notifications due now", b.due)
        yield GaugeMetricFamily("usdtpay_notifications_failed", "notifications given up on", b.failed)
        yield GaugeMetricFamily(
            "usdtpay_notification_oldest_due_seconds",
            "how long the oldest due one waits",
            b.oldest_due_seconds(snap.now),
        )


def order_metrics(snap: Snapshot) -> Iterator[Metric]:
    if snap.rate is not None and snap.rate.rate is not None:
        yield GaugeMetricFamily(
            "usdtpay_rate_cny_per_usdt", "the current rate", float(Decimal(snap.rate.rate))
        )
        age = snap.rate.age_seconds(snap.now)
        if age is not None:
            yield GaugeMetricFamily("usdtpay_rate_age_seconds", "age of the current rate", age)
    labels = ["face", "channel"]
    yield _counter("usdtpay_orders_created", "orders created", labels, snap.created)
    yield _counter("usdtpay_orders_paid", "orders paid", labels, snap.paid)
    last: dict[tuple[str, ...], float] = {(status,): float(n) for status, n in snap.last_hour.items()}
    yield _gauge("usdtpay_orders_last_hour", "orders created in the last hour by status", ["status"], last)


class DatabaseCollector(Collector):
    """Yields the families of the snapshot the scrape handler just read."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        yield from chain_metrics(snap)
        yield from notify_metrics(snap)
        yield from order_metrics(snap)


REGISTRY = CollectorRegistry(auto_describe=False)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
DATABASE = DatabaseCollector()
REGISTRY.register(DATABASE)
SCRAPE_SECONDS = Gauge(
    "usdtpay_metrics_database_read_seconds",
    "time the last scrape spent reading the database",
    registry=REGISTRY,
)
_lock = asyncio.Lock()
INF = float("inf")


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any], app_state: AppState) -> Response[bytes]:
    settings = app_state.settings
    if not settings.ops.metrics_open and not is_trusted(client_ip(request), settings.api.trusted_networks):
        return Response(
            b"forbidden: scrape from api.trusted_networks or set ops.metrics_open\n", status_code=403
        )
    async with _lock:  # one snapshot at a time: the collector holds it
        started = time.perf_counter()
        DATABASE.snapshot = await read_snapshot(app_state)
        SCRAPE_SECONDS.set(time.perf_counter() - started)
        body = generate_latest(REGISTRY)
        DATABASE.snapshot = None
    # CONTENT_TYPE_LATEST already names its charset; Litestar would add a second one.
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def router() -> Router:
    return Router(path="/", route_handlers=[metrics])
