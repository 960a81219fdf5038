"""Run one chain's watcher, or the expiry step, until told to stop.

Shared by `usdtpay watch <chain>` and the workers of `usdtpay run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.db import SessionFactory, unit_of_work
from engine.settlement import expire_due, rules_for
from watchers.readers import build_reader
from watchers.streamer import Streamer, StreamerConfig

log = logging.getLogger("usdtpay.watch")
EXPIRY_INTERVAL_S = 5.0


def streamer_config(settings: Settings, chain: str) -> StreamerConfig:
    group = settings.eth if chain == "eth" else settings.tron
    return StreamerConfig(
        chain=chain,
        rules=rules_for(settings, chain),
        batch_blocks=group.batch_blocks,
        poll_seconds=group.poll_seconds,
        start_block=group.start_block,
        track_unconfirmed=group.track_unconfirmed,
    )


async def run_watcher(
    settings: Settings,
    sessions: SessionFactory,
    chain: str,
    stop: asyncio.Event,
    clock: Clock | None = None,
) -> None:
    reader = build_reader(settings, chain)
    try:
        await Streamer(reader, sessions, streamer_config(settings, chain), clock).run(stop)
    finally:
        await reader.aclose()


async def run_expiry(
    sessions: SessionFactory,
    stop: asyncio.Event,
    clock: Clock | None = None,
    *,
    interval_s: float = EXPIRY_INTERVAL_S,
) -> None:
    """Expire due orders every few seconds (their reservations stay held)."""
    clock = clock or SystemClock()
    while not stop.is_set():
        try:
            async with unit_of_work(sessions) as session:
                count = await expire_due(session, clock.now())
            if count:
                log.info("expired %d order(s)", count)
        except Exception:
            log.exception("expiring orders failed; retrying in %.0f s", interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
