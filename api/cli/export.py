"""`usdtpay export`: orders or settlements as CSV for the accountants."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from api.cli.common import Command
from api.cli.timewindow import add_window_arguments, window
from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.config import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="orders or settlements of a window as CSV")
    add_window_arguments(p, required=True)
    p.add_argument("--merchant", metavar="PID", help="only this merchant's orders")
    p.add_argument(
        "--kind",
        choices=["orders", "settlements"],
        default="orders",
        help="orders created in the window (default), or payments received in it",
    )
    p.add_argument("--out", default="-", help="CSV file to write (default: standard output)")


async def export(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from engine.db import create_engine, create_session_factory
    from engine.export import ExportWindow, export_orders, export_settlements
    from engine.merchants import get_merchant

    since, until = window(args, settings.timezone, datetime.now(UTC), None)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            merchant_id = None
            if args.merchant:
                merchant = await get_merchant(session, args.merchant, include_disabled=True)
                if merchant is None:
                    raise NotFound(f"no merchant {args.merchant!r}; see `usdtpay merchant list`")
                merchant_id = merchant.id
            span = ExportWindow.of(since, until, settings.timezone, merchant_id)
            writer = export_orders if args.kind == "orders" else export_settlements
            return await writer(session, out, span)
    finally:
        await engine.dispose()


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        out = sys.stdout if args.out == "-" else stack.enter_context(open(args.out, "w", newline=""))
        rows = asyncio.run(export(settings, args, out))
    where = "standard output" if args.out == "-" else args.out
    print(f"{rows} {args.kind} rows written to {where}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Command] = {"export": cmd_export}
