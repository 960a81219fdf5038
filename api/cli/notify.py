"""`usdtpay notify`: run the delivery worker alone; `notify list` shows
deliveries and their attempts; `notify retry ID` sends one again now."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from rich.table import Table

    from engine.config import Settings
    from engine.notify.admin import DeliveryView


def register(sub: Any) -> None:
    notify = sub.add_parser("notify", help="merchant notifications: run the worker, list, retry")
    actions = notify.add_subparsers(dest="sub")
    lst = actions.add_parser("list", help="deliveries with their attempts, newest first")
    lst.add_argument("--failed", action="store_true", help="only notifications whose schedule ran out")
    lst.add_argument("--order", type=int, help="only this platform order id")
    lst.add_argument("--status", choices=["pending", "delivered", "failed"], help="only this state")
    lst.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    retry = actions.add_parser("retry", help="send a notification again now")
    retry.add_argument("id", help="notification id or delivery id")
    retry.add_argument("--force", action="store_true", help="also re-send one already acknowledged")


def cmd_run(settings: Settings, _: argparse.Namespace) -> int:
    from api.logging import configure_logging
    from engine.clock import SystemClock
    from engine.db import create_engine, create_session_factory
    from engine.notify.worker import run_notifier

    configure_logging(settings)

    async def main() -> None:
        engine = create_engine(settings.database_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await run_notifier(create_session_factory(engine), settings, SystemClock(), stop)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return 0


def _attempts_text(view: DeliveryView) -> str:
    lines = []
    for a in view.attempts[-6:]:
        answer = f"HTTP {a.http_status}" if a.http_status is not None else "-"
        # With an answer, its first words say more than "not acknowledged".
        detail = (a.response_body or "")[:40] if a.http_status is not None else (a.error or "")
        when = f"{a.started_at:%m-%d %H:%M:%S}"
        lines.append(f"#{a.attempt_no} {when} {a.outcome} {answer} {a.latency_ms or 0} ms {detail}")
    hidden = len(view.attempts) - 6
    return "\n".join(([f"… {hidden} earlier"] if hidden > 0 else []) + lines)


def render(views: list[DeliveryView]) -> Table:
    from rich.table import Table

    table = Table(title="merchant notifications (newest first)", show_lines=True)
    for name in ("id", "order", "scheme", "status", "tries", "next / done", "url", "attempts"):
        table.add_column(name, overflow="fold")
    colours = {"delivered": "green", "failed": "red", "pending": "yellow"}
    for v in views:
        n = v.notification
        when = n.delivered_at if n.status == "delivered" else n.next_attempt_at
        table.add_row(
            f"{n.id}\n{n.delivery_id}",
            str(n.order_id),
            n.scheme,
            f"[{colours.get(n.status, 'white')}]{n.status}[/]",
            str(n.attempts),
            f"{when:%Y-%m-%d %H:%M:%S}Z" if when and n.status != "failed" else "-",
            n.url,
            _attempts_text(v),
        )
    return table


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console

    from api.cli.common import run_db
    from engine.notify.admin import list_deliveries

    async def fn(session: Any) -> int:
        views = await list_deliveries(
            session, failed_only=args.failed, order_id=args.order, status=args.status, limit=args.limit
        )
        console = Console()
        if not views:
            console.print("no notifications match")
            return 0
        console.print(render(views))
        return 0

    return run_db(settings, fn)


def cmd_retry(settings: Settings, args: argparse.Namespace) -> int:
    """Make it due, then send it from this process right away."""
    from rich.console import Console

    from engine.clock import SystemClock
    from engine.db import create_engine, create_session_factory
    from engine.notify.admin import list_deliveries, schedule_retry
    from engine.notify.transport import new_client
    from engine.notify.worker import Notifier

    async def main() -> int:
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        clock = SystemClock()
        try:
            async with sessions() as session:
                row = await schedule_retry(session, args.id, clock.now(), force=args.force)
                await session.commit()
            async with new_client(settings) as client:
                sent = await Notifier(sessions, settings, clock, client).round(only_ids=[row.id])
            async with sessions() as session:
                views = await list_deliveries(session, order_id=row.order_id, limit=10)
        finally:
            await engine.dispose()
        view = next(v for v in views if v.notification.id == row.id)
        Console().print(render([view]))
        if not sent:
            print("another worker took it first; see `usdtpay notify list`")
        return 0 if view.notification.status == "delivered" else 1

    return asyncio.run(main())


COMMANDS: dict[str, Command] = {"notify": cmd_run, "notify list": cmd_list, "notify retry": cmd_retry}
