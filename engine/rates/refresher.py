"""The background rate refresher: ask the sources every
`rate.refresh_seconds`, store the adjusted median, log what failed.

The sources are asked with no database session open; a short session then
records the result, so a slow source never holds SQLite's only connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from engine.clock import Clock
from engine.config import Settings
from engine.db import SessionFactory
from engine.errors import Unavailable
from engine.rates.service import Quote, RateSource, collect, record
from engine.rates.sources import build_sources, new_client

log = logging.getLogger("usdtpay.rates")


def wants_refresher(settings: Settings) -> bool:
    """A refresher is needed only when the rate comes from market sources:
    a fixed rate (USDTPAY_RATE_FIXED / rate.fixed) needs no refreshing."""
    if settings.effective_rate_fixed() is not None:
        return False
    return any(name != "fixed" for name in settings.rate.sources)


async def refresh_once(
    sessions: SessionFactory, sources: Sequence[RateSource], settings: Settings, clock: Clock
) -> Quote:
    """One round: ask, then record and commit. Raises Unavailable when no
    source answered (nothing is stored then, so the old rate ages)."""
    values, report = await collect(sources)
    async with sessions() as session:
        quote = await record(session, values, report, settings, clock.now())
        await session.commit()
    return quote


async def _one_round(
    sessions: SessionFactory, sources: Sequence[RateSource], settings: Settings, clock: Clock
) -> None:
    try:
        quote = await refresh_once(sessions, sources, settings, clock)
    except Unavailable as exc:
        log.warning(
            "rate refresh failed: %s; CNY orders get 503 once the last rate is older than %d s",
            exc.message,
            settings.rate.max_age_seconds,
        )
        return
    except Exception:  # the database may be briefly unavailable; try again next round
        log.exception("rate refresh could not be stored; retrying in %d s", settings.rate.refresh_seconds)
        return
    failed = {name: text for name, text in quote.sources.items() if text.startswith("error")}
    log.info("rate %s CNY/USDT from %s", quote.rate, quote.sources)
    if failed:
        log.warning("rate sources failing: %s", failed)


async def run_refresher(
    sessions: SessionFactory,
    settings: Settings,
    clock: Clock,
    stop: asyncio.Event,
    *,
    sources: Sequence[RateSource] | None = None,
) -> None:
    """Refresh until `stop` is set. `sources` defaults to rate.sources."""
    async with new_client(settings) as client:
        chosen = list(sources) if sources is not None else build_sources(settings, client)
        names = [source.name for source in chosen]
        log.info("rate refresher: sources %s every %d s", names, settings.rate.refresh_seconds)
        if len(names) < settings.rate.min_sources:
            log.error(
                "rate.sources lists %d source(s) but rate.min_sources is %d: no refresh can be stored; "
                "list more sources, lower rate.min_sources or set USDTPAY_RATE_FIXED",
                len(names),
                settings.rate.min_sources,
            )
        while not stop.is_set():
            await _one_round(sessions, chosen, settings, clock)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.rate.refresh_seconds)
