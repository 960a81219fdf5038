"""The CNY-per-USDT rate: median of the configured sources, adjusted, kept
with its time in the database so every process sees the same value."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.config import Settings
from engine.errors import Unavailable
from engine.models import RateSnapshot
from engine.money import round_up

RATE_PLACES = 6


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


async def refresh(
    session: AsyncSession, sources: list[RateSource], settings: Settings, now: datetime
) -> Quote:
    """Ask every source, keep the median of those that answered, store it."""
    values: list[Decimal] = []
    report: dict[str, str] = {}
    for source in sources:
        try:
            value = await source.fetch()
        except Exception as exc:  # a source failing must not stop the others
            report[source.name] = f"error: {type(exc).__name__}: {str(exc)[:120]}"
            continue
        if value <= 0:
            report[source.name] = f"error: non-positive rate {value}"
            continue
        values.append(value)
        report[source.name] = str(value)
    if not values:
        raise Unavailable(f"no rate source answered: {report}")
    median = Decimal(statistics.median(values))
    rate = adjust(median, settings)
    session.add(RateSnapshot(rate=str(rate), median=str(median), sources=report, fetched_at=now))
    await session.flush()
    return Quote(rate=rate, fetched_at=now, sources=report)


async def latest(session: AsyncSession) -> RateSnapshot | None:
    stmt = select(RateSnapshot).order_by(RateSnapshot.fetched_at.desc(), RateSnapshot.id.desc()).limit(1)
    return (await session.scalars(stmt)).one_or_none()


async def current_quote(session: AsyncSession, settings: Settings, now: datetime) -> Quote:
    """The rate to price an order with, or 503 when it is too old.

    A fixed rate (USDTPAY_RATE_FIXED) overrides the sources and is used as
    given, without the adjustment.
    """
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        return Quote(rate=fixed, fetched_at=now, sources={"fixed": str(fixed)}, fixed=True)
    snapshot = await latest(session)
    if snapshot is None:
        raise Unavailable(
            "no CNY/USDT rate yet; the rate refresher has not succeeded (see `usdtpay rate show`)"
        )
    age = now - snapshot.fetched_at
    if age > timedelta(seconds=settings.rate.max_age_seconds):
        raise Unavailable(
            f"the CNY/USDT rate is {int(age.total_seconds())} s old "
            f"(limit {settings.rate.max_age_seconds} s); "
            f"(limit {settings.rate.max_age_seconds} s); "
            "price the order in USDT or retry when the rate sources answer"
        )
    return Quote(rate=Decimal(snapshot.rate), fetched_at=snapshot.fetched_at, sources=dict(snapshot.sources))
