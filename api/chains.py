"""Chain readers and chain workers, wired from settings.

The API builds a reader per supplement call (supplements are rare, and a
short-lived reader needs no lifecycle beyond the request); `usdtpay run`
gets one watcher worker per enabled chain plus the expiry step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.errors import Unavailable
from watchers.readers import CHAINS, ClosableReader, build_reader, chain_enabled

if TYPE_CHECKING:
    from api.workers import Worker

ENV_GROUP = {"eth": "ETH", "tron": "TRON"}


@asynccontextmanager
async def open_reader(settings: Settings, chain: str) -> AsyncIterator[ClosableReader]:
    if not chain_enabled(settings, chain):
        group = ENV_GROUP.get(chain, chain.upper())
        raise Unavailable(
            f"the {chain} chain is not enabled here; set USDTPAY_{group}__ENABLED=true and its node URLs"
        )
    reader = build_reader(settings, chain)
    try:
        yield reader
    finally:
        await reader.aclose()


def chain_workers(settings: Settings) -> dict[str, Worker]:
    from watchers.runner import run_expiry, run_watcher

    workers: dict[str, Worker] = {}
    for chain in CHAINS:
        if chain_enabled(settings, chain):
            workers[f"watch-{chain}"] = lambda ctx, c=chain: run_watcher(  # type: ignore[misc]
                ctx.settings, ctx.sessions, c, ctx.stop, ctx.clock
            )
    if workers:
        workers["expiry"] = lambda ctx: run_expiry(ctx.sessions, ctx.stop, ctx.clock)
    return workers
