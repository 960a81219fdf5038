"""Run the API (uvicorn) and, for `usdtpay run`, the background workers in
one event loop; SIGINT/SIGTERM stop both cleanly."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from api.app import create_app
from api.logging import configure_logging
from api.workers import WorkerContext, available_workers, supervise
from engine.config import Settings
from engine.db import create_engine, create_session_factory

log = logging.getLogger("usdtpay")


async def _serve(settings: Settings, host: str, port: int, with_workers: bool) -> None:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port, log_config=None, access_log=False)
    )
    tasks: list[asyncio.Task[None]] = []
    engine = create_engine(settings.database_url)
    ctx = WorkerContext(settings=settings, sessions=create_session_factory(engine))
    if with_workers:
        for name, worker in available_workers(settings).items():
            log.info("starting worker %s", name)
            tasks.append(asyncio.create_task(supervise(name, worker, ctx), name=name))
    try:
        await server.serve()
    finally:
        ctx.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()


def serve(settings: Settings, host: str, port: int, *, with_workers: bool) -> int:
    configure_logging(settings)
    log.info("usdtpay listening on http://%s:%d (workers: %s)", host, port, with_workers)
    asyncio.run(_serve(settings, host, port, with_workers))
    return 0
