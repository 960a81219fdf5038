"""`usdtpay serve` (the API) and `usdtpay run` (the API and the background
workers in one event loop); SIGINT/SIGTERM stop both cleanly."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from engine.config import Settings

log = logging.getLogger("usdtpay")
STARTUP_FAILURE = 3  # uvicorn's exit code when the API's own listener cannot start


def uvicorn_config(app: Any, *, host: str, port: int) -> Any:
    """How the API is served. uvicorn's own proxy headers are off: it would
    take X-Forwarded-For from any loopback peer, while usdtpay decides
    itself whom to believe (api.forwarded_allow_ips, api.http.client_address)."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False, server_header=False
    )


def admin_server(settings: Settings) -> Any:
    """The operator console on a listener of its own (`admin.bind`,
    "host:port"); stopped with the API, so it leaves signals to the API's
    server."""
    import contextlib

    import uvicorn

    from api.http.admin.routes import create_admin_app

    host, _, port = settings.admin.bind.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"USDTPAY_ADMIN__BIND must be host:port, got {settings.admin.bind!r}")

    class ConsoleServer(uvicorn.Server):
        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

    log.info("operator console listening on http://%s:%s/admin/", host, port)
    return ConsoleServer(uvicorn_config(create_admin_app(settings), host=host.strip("[]"), port=int(port)))


async def _serve(
    settings: Settings, host: str, port: int, with_workers: bool, without: frozenset[str] = frozenset()
) -> int:
    import uvicorn

    from api.http.app import create_app
    from api.workers.registry import available_workers
    from api.workers.supervisor import WorkerContext, supervise
    from engine.db import create_engine, create_session_factory

    server = uvicorn.Server(uvicorn_config(create_app(settings), host=host, port=port))
    tasks: list[asyncio.Task[None]] = []
    engine = create_engine(settings.database_url)
    ctx = WorkerContext(settings=settings, sessions=create_session_factory(engine))
    if with_workers:
        for name, worker in available_workers(settings).items():
            if name in without:
                log.info("worker %s runs elsewhere (--without)", name)
                continue
            log.info("starting worker %s", name)
            tasks.append(asyncio.create_task(supervise(name, worker, ctx), name=name))
    console = admin_server(settings) if settings.admin.bind else None
    console_task = None
    if console is not None:
        console_task = asyncio.create_task(_console(console, server, settings.admin.bind), name="admin")
    freezing = asyncio.create_task(_freeze_when_started(server), name="gc-freeze")
    console_listened = True
    try:
        await server.serve()
    finally:
        if console is not None and console_task is not None:
            console.should_exit = True  # a clean shutdown, lifespan included
            await asyncio.wait([console_task], timeout=15)
            if console_task.done() and not console_task.cancelled() and console_task.exception() is None:
                console_listened = console_task.result()
        freezing.cancel()
        ctx.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
    return 0 if console_listened else STARTUP_FAILURE


async def _console(console: Any, api: Any, bind: str) -> bool:
    """The console's server; False if it could not start. The API then
    stops too: a console that was asked for and does not listen is a
    failure to see at once, not when it is needed."""
    try:
        await console.serve()
    except SystemExit:  # uvicorn's answer to a listener it could not open, logged just before
        log.error("the operator console could not listen on USDTPAY_ADMIN__BIND=%s: free that port or set "
                  "another host:port (empty serves the console on the API's listener)", bind)  # fmt: skip
        api.should_exit = True
        return False
    return True


async def _freeze_when_started(server: Any) -> None:
    """Once the app has started, move everything alive into the garbage
    collector's permanent generation. Start-up leaves ~160,000 objects
    (modules, SQLAlchemy, Litestar, pydantic) that a full collection would
    otherwise walk every few seconds under load: a pause of 50-300 ms on
    the event loop, which every request in flight waits out."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.05)
    gc.collect()
    gc.freeze()


def serve(
    settings: Settings, host: str, port: int, *, with_workers: bool, without: frozenset[str] = frozenset()
) -> int:
    from api.logging import configure_logging

    configure_logging(settings)
    log.info("usdtpay listening on http://%s:%d (workers: %s)", host, port, with_workers)
    return asyncio.run(_serve(settings, host, port, with_workers, without))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from engine.db import is_sqlite
    from engine.migrate import upgrade

    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    return serve(settings, args.host, args.port, with_workers=False)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from engine.migrate import upgrade

    upgrade(settings.database_url)
    return serve(settings, args.host, args.port, with_workers=True, without=frozenset(args.without))


def register(sub: Any) -> None:
    for name in ("serve", "run"):
        p = sub.add_parser(name, help="API only" if name == "serve" else "API and background workers")
        p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        if name == "run":
            p.add_argument(
                "--without",
                action="append",
                default=[],
                metavar="WORKER",
                help="a worker another process runs (repeatable): notifier, rates, expiry, fiat-query, "
                "watch-tron, watch-eth, watch-<exchange>",
            )


COMMANDS: dict[str, Command] = {"serve": cmd_serve, "run": cmd_run}
