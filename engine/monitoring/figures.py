"""The operators' figures as values: what `usdtpay status`, GET /metrics,
/api/health and the console show. Read by engine.monitoring.reads,
.exchanges and .queries, judged by engine.monitoring.parts and .health; the
outer layers only render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.chain import BLOCK_SECONDS
from engine.config import Settings

# Attempt latency buckets (seconds) for the /metrics histogram; the notify
# timeout is 3 s by default, so the top buckets catch timeouts.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
LAST_HOUR = timedelta(hours=1)

# What a chain's watcher is doing, from its lease (engine.settlement.lease).
RUNNING, FAILING, STOPPED, NEVER_STARTED = "running", "failing", "stopped", "never started"


@dataclass(frozen=True)
class Backlog:
    pending: int  # not delivered yet, not given up
    due: int  # pending and due now
    oldest_due_at: datetime | None
    failed: int  # gave up after the face's schedule

    def oldest_due_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


@dataclass(frozen=True)
class RateState:
    rate: str | None
    fetched_at: datetime | None
    sources: dict[str, str] = field(default_factory=dict)
    fixed: bool = False

    def age_seconds(self, now: datetime) -> float | None:
        if self.fixed:
            return 0.0
        return None if self.fetched_at is None else max(0.0, (now - self.fetched_at).total_seconds())


def rate_age_limit(settings: Settings) -> int:
    return settings.ops.rate_age_degraded_seconds or settings.rate.max_age_seconds


@dataclass(frozen=True)
class Latency:
    """Cumulative counts per bucket upper bound (seconds), like a histogram."""

    buckets: list[tuple[float, int]]
    count: int
    sum_seconds: float


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass(frozen=True)
class ChainStatus:
    """A chain's cursor and its watcher, as every process sees them."""

    chain: str
    enabled: bool
    head: int | None
    final_head: int | None
    next_block: int | None
    updated_at: datetime | None
    # The watcher's lease: running / failing / stopped / never started.
    watcher: str = NEVER_STARTED
    holder: str | None = None
    heartbeat_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    errors: int = 0
    blocks_processed: int = 0

    @property
    def cursor(self) -> int | None:
        """The last block ingested."""
        return None if self.next_block is None else self.next_block - 1

    @property
    def lag_blocks(self) -> int | None:
        if self.final_head is None or self.next_block is None:
            return None
        return max(0, self.final_head - self.next_block + 1)

    @property
    def lag_seconds(self) -> float | None:
        lag = self.lag_blocks
        return None if lag is None else lag * BLOCK_SECONDS.get(self.chain, 3.0)

    def failing_seconds(self, now: datetime) -> float:
        return 0.0 if self.failing_since is None else max(0.0, (now - self.failing_since).total_seconds())


@dataclass(frozen=True)
class ExchangeStatus:
    """An exchange's watcher (seed 004 type 2) and its receiving accounts, as
    every process sees them. Its cursor is a time, not a block: every enabled
    account has been read up to `scanned_until` (the furthest-behind one)."""

    exchange: str
    enabled: bool  # in exchanges.enabled: `usdtpay run` watches it
    accounts: int  # enabled receiving accounts
    unread: int  # of them, never read by a successful step yet
    scanned_until: datetime | None
    open_since: datetime | None  # the oldest record still re-read until it is final
    updated_at: datetime | None  # the furthest-behind account's last successful step
    lag_seconds: float | None  # now - scanned_until; None while an account is unread
    seconds_since_update: float | None  # now - updated_at; None while an account is unread
    records: int = 0  # records read (a re-read overlap counts again)
    unmatched: int = 0  # transfers rows of this exchange that settled no order
    watcher: str = NEVER_STARTED
    holder: str | None = None
    heartbeat_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    errors: int = 0

    def failing_seconds(self, now: datetime) -> float:
        return 0.0 if self.failing_since is None else max(0.0, (now - self.failing_since).total_seconds())
