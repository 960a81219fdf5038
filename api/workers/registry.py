"""Every background loop `usdtpay run` can start, by name, wired from the
settings. Each loop's logic lives beside its domain; this module only
builds what it needs (channels, readers) and hands it in."""

from __future__ import annotations

from api.workers.supervisor import Worker, WorkerContext
from bridges.registry import build_channels, close_channels
from engine.chain import CHAINS, chain_enabled
from engine.config import Settings
from engine.fiat.query_loop import run_fiat_query
from engine.notify.worker import run_notifier
from engine.rates.refresher import run_refresher, wants_refresher
from watchers.exchanges.loop import run_exchange_watcher
from watchers.runner import run_expiry, run_watcher


async def _notifier(ctx: WorkerContext) -> None:
    await run_notifier(ctx.sessions, ctx.settings, ctx.clock, ctx.stop)


async def _rates(ctx: WorkerContext) -> None:
    await run_refresher(ctx.sessions, ctx.settings, ctx.clock, ctx.stop)


async def _fiat_query(ctx: WorkerContext) -> None:
    channels = build_channels(ctx.settings, clock=ctx.clock)
    try:
        await run_fiat_query(ctx.sessions, channels, ctx.settings.fiat, ctx.clock, ctx.stop)
    finally:
        await close_channels(channels)


def _watcher(chain: str) -> Worker:
    async def watch(ctx: WorkerContext) -> None:
        await run_watcher(ctx.settings, ctx.sessions, chain, ctx.stop, ctx.clock)

    return watch


def _exchange_watcher(exchange: str) -> Worker:
    async def watch(ctx: WorkerContext) -> None:
        await run_exchange_watcher(ctx.settings, ctx.sessions, exchange, ctx.stop, ctx.clock)

    return watch


async def _expiry(ctx: WorkerContext) -> None:
    await run_expiry(ctx.sessions, ctx.stop, ctx.clock)


def available_workers(settings: Settings) -> dict[str, Worker]:
    """The workers this deployment's settings call for, by name."""
    workers: dict[str, Worker] = {"notifier": _notifier}
    if wants_refresher(settings):
        workers["rates"] = _rates
    if settings.wechat.enabled or settings.alipay.enabled or settings.quickpay.enabled:
        workers["fiat-query"] = _fiat_query
    chains = [chain for chain in CHAINS if chain_enabled(settings, chain)]
    for chain in chains:
        workers[f"watch-{chain}"] = _watcher(chain)
    for exchange in settings.exchanges.enabled:  # seed 004 type 2
        workers[f"watch-{exchange}"] = _exchange_watcher(exchange)
    if chains or settings.exchanges.enabled:
        workers["expiry"] = _expiry
    return workers
