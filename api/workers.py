"""Background workers that `usdtpay run` starts beside the API.

A worker is an async function taking the shared context and returning when
`ctx.stop` is set. Each later part (rate refresher, watchers, notifier,
fiat query step) adds itself to `available_workers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.db import SessionFactory
from engine.notify.worker import run_notifier
from engine.rates.refresher import run_refresher, wants_refresher

log = logging.getLogger("usdtpay.workers")


@dataclass
class WorkerContext:
    settings: Settings
    sessions: SessionFactory
    clock: Clock = field(default_factory=SystemClock)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


Worker = Callable[[WorkerContext], Awaitable[None]]


def available_workers(settings: Settings) -> dict[str, Worker]:
    """The workers this deployment's settings call for, by name."""
    workers: dict[str, Worker] = {}
    workers["notifier"] = lambda ctx: run_notifier(ctx.sessions, ctx.settings, ctx.clock, ctx.stop)
    if wants_refresher(settings):
        workers["rates"] = lambda ctx: run_refresher(ctx.sessions, ctx.settings, ctx.clock, ctx.stop)
    if settings.wechat.enabled or settings.alipay.enabled or settings.quickpay.enabled:
        from api.fiat_query import fiat_query_worker  # imports this module

        workers["fiat-query"] = fiat_query_worker
    from api.chains import chain_workers  # watchers per enabled chain + order expiry

    workers.update(chain_workers(settings))
    return workers


async def supervise(name: str, worker: Worker, ctx: WorkerContext, *, restart_delay_s: float = 5.0) -> None:
    """Keep a worker running: a crash is logged and the worker restarted."""
    while not ctx.stop.is_set():
        try:
            await worker(ctx)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s crashed; restarting in %.0f s", name, restart_delay_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stop.wait(), timeout=restart_delay_s)
