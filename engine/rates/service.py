"""The CNY-per-USDT rate: median of the configured sources, adjusted, kept
with its time in the database so every process sees the same value."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.config import Settings
from engine.errors import Unavailable
from engine.models import RateSnapshot
from engine.money import round_up
from engine.rates import queries
from engine.work import ReadCache

log = logging.getLogger("usdtpay.rates")
# One warning a minute per process, however many orders are refused meanwhile.
_ADVICE_EVERY_S = 60.0
_last_advice = 0.0


def _unavailable(merchant_message: str, operator_advice: str) -> Unavailable:
    """The merchant hears what to do (retry later, or price in USDT); the
    operator's advice (which command, which setting) goes to the log."""
    global _last_advice
    if time.monotonic() - _last_advice >= _ADVICE_EVERY_S:
        _last_advice = time.monotonic()
        log.warning("CNY orders are refused: %s", operator_advice)
    return Unavailable(merchant_message)


RATE_PLACES = 6
SNAPSHOT_RETENTION = timedelta(days=30)


class RateSource(Protocol):
    name: str

    async def fetch(self) -> Decimal:
        """CNY per USDT; raises on any failure (network, status, garbage)."""


@dataclass(frozen=True)
class Quote:
    rate: Decimal
    fetched_at: datetime
    sources: dict[str, str]
    fixed: bool = False


def adjust(median: Decimal, settings: Settings) -> Decimal:
    value = median * settings.rate.multiply + settings.rate.add
    if value <= 0:
        raise Unavailable("the rate adjustment makes the rate non-positive; check rate.multiply / rate.add")
    return round_up(value, RATE_PLACES)


async def collect(sources: Sequence[RateSource]) -> tuple[list[Decimal], dict[str, str]]:
    """Ask every source at once; returns the values that came back and a
    per-source report ("7.25" or "error: ..."). Needs no database session,
    so callers never hold one across the network."""
    results = await asyncio.gather(*(source.fetch() for source in sources), return_exceptions=True)
    values: list[Decimal] = []
    report: dict[str, str] = {}
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, BaseException):
            # A source failing must not stop the others.
            report[source.name] = f"error: {type(result).__name__}: {str(result)[:160]}"
        elif result <= 0:
            report[source.name] = f"error: non-positive rate {result}"
        else:
            values.append(result)
            report[source.name] = str(result)
    return values, report


def agreeing(values: list[Decimal], report: dict[str, str], settings: Settings) -> list[Decimal]:
    """The values within rate.agree_percent of their median; Unavailable
    unless at least rate.min_sources of them agree."""
    if not values:
        raise Unavailable(f"no rate source answered: {report}")
    median = Decimal(statistics.median(values))
    band = median * settings.rate.agree_percent / 100
    agreed = [value for value in values if abs(value - median) <= band]
    if len(agreed) < settings.rate.min_sources:
        raise Unavailable(
            f"{len(agreed)} rate source(s) agree within {settings.rate.agree_percent}% of the median "
            f"{median}, {settings.rate.min_sources} needed (rate.min_sources): {report}"
        )
    return agreed


async def check_move(session: AsyncSession, median: Decimal, settings: Settings, now: datetime) -> None:
    """Unavailable when `median` moved more than rate.max_move_percent from
    the last stored median that is still fresh."""
    previous = await queries.latest(session)
    if previous is None or now - previous.fetched_at > timedelta(seconds=settings.rate.max_age_seconds):
        return  # nothing current to protect: orders already refuse a stale rate
    last = Decimal(previous.median)
    moved = abs(median - last) * 100 / last
    if moved > settings.rate.max_move_percent:
        raise Unavailable(
            f"the rate sources say {median} CNY/USDT, {moved:.2f}% away from the last {last} "
            f"(limit rate.max_move_percent {settings.rate.max_move_percent}%); nothing stored: check "
            "the sources. The last rate ages out after rate.max_age_seconds; the next agreeing refresh "
            "after that is stored"
        )


async def record(
    session: AsyncSession, values: list[Decimal], report: dict[str, str], settings: Settings, now: datetime
) -> Quote:
    """Store the adjusted median of the agreeing `values` as the current
    rate (flushes); Unavailable, with nothing stored, when too few sources
    agree or the median jumped (see agreeing, check_move)."""
    median = Decimal(statistics.median(agreeing(values, report, settings)))
    await check_move(session, median, settings, now)
    rate = adjust(median, settings)
    session.add(RateSnapshot(rate=str(rate), median=str(median), sources=report, fetched_at=now))
    # Old snapshots only matter for a while (orders keep the rate they used).
    await session.execute(delete(RateSnapshot).where(RateSnapshot.fetched_at < now - SNAPSHOT_RETENTION))
    await session.flush()
    return Quote(rate=rate, fetched_at=now, sources=report)


async def refresh(
    session: AsyncSession, sources: Sequence[RateSource], settings: Settings, now: datetime
) -> Quote:
    """collect() then record(); the refresher calls the two apart so that no
    session is open while the sources are asked."""
    values, report = await collect(sources)
    return await record(session, values, report, settings, now)


# A snapshot served from memory is at most this old (a refresh elsewhere is
# seen within it; a stale one is read again at once).
MEMO_S = 1.0


def _latest_row(conn: Connection) -> Quote | None:
    row = queries.latest_row(conn)
    if row is None:
        return None
    return Quote(rate=Decimal(row.rate), fetched_at=row.fetched_at, sources=dict(row.sources))


class RateNotInMemory(Exception):
    """quote_in without a connection needed to read the rate."""


def quote_in(
    conn: Connection | None, settings: Settings, now: datetime, cache: ReadCache | None = None
) -> Quote:
    """The rate to price an order with, or 503 when it is too old.

    A fixed rate (USDTPAY_RATE_FIXED) overrides the sources and is used as
    given, without the adjustment. Runs inside a unit of work (engine.work);
    with the runner's `cache` the latest snapshot is read at most once per
    MEMO_S, and read again whenever the remembered one is too old. With no
    `conn` it answers only from the fixed rate or the cache, and raises
    RateNotInMemory where it would read (the caller then asks with one).
    """
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        return Quote(rate=fixed, fetched_at=now, sources={"fixed": str(fixed)}, fixed=True)
    limit = timedelta(seconds=settings.rate.max_age_seconds)

    def read() -> Quote | None:
        if conn is None:
            raise RateNotInMemory
        return _latest_row(conn)

    if cache is None:
        snapshot = read()
    else:
        snapshot = cache.get("rate", MEMO_S, read)
        if snapshot is not None and now - snapshot.fetched_at > limit:
            snapshot = cache.get("rate", MEMO_S, read, fresh=True)
    if snapshot is None:
        raise _unavailable(
            "no CNY/USDT rate yet; price the order in USDT or retry later",
            "no rate snapshot: the rate refresher has not succeeded (see `usdtpay rate show`)",
        )
    age = now - snapshot.fetched_at
    if age > limit:
        seconds = int(age.total_seconds())
        raise _unavailable(
            f"the CNY/USDT rate is {seconds} s old (limit {settings.rate.max_age_seconds} s); "
            "price the order in USDT or retry when the rate sources answer",
            f"the newest rate is {seconds} s old: check the rate sources (`usdtpay rate show`)",
        )
    return snapshot


async def current_quote(session: AsyncSession, settings: Settings, now: datetime) -> Quote:
    """The rate an order created now would use (503 when stale), for async callers."""
    return await session.run_sync(lambda s: quote_in(s.connection(), settings, now))
