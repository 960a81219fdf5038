"""Keeping background loops alive beside the API (`usdtpay run`).

A worker is an async function taking the shared context and returning when
`ctx.stop` is set; api.workers.registry says which ones a deployment runs.
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
from engine.errors import UsdtPayError

log = logging.getLogger("usdtpay.workers")


@dataclass
class WorkerContext:
    settings: Settings
    sessions: SessionFactory
    clock: Clock = field(default_factory=SystemClock)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


Worker = Callable[[WorkerContext], Awaitable[None]]


async def supervise(
    name: str,
    worker: Worker,
    ctx: WorkerContext,
    *,
    restart_delay_s: float = 5.0,
    held_delay_s: float = 60.0,
) -> None:
    """Keep a worker running: a crash is logged and the worker restarted."""
    while not ctx.stop.is_set():
        try:
            await worker(ctx)
            return
        except asyncio.CancelledError:
            raise
        except UsdtPayError as exc:  # e.g. another process watches this chain: no traceback
            log.error("worker %s cannot run: %s; trying again in %.0f s", name, exc.message, held_delay_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stop.wait(), timeout=held_delay_s)
        except Exception:
            log.exception("worker %s crashed; restarting in %.0f s", name, restart_delay_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stop.wait(), timeout=restart_delay_s)
