"""`usdtpay status [--live]`: chains (head, final head, cursor, lag) and the
other sections registered in api.cli.status_report.

Its reads are engine.monitoring's plain SQL over engine.rows.reading: on a
SQLite file, aiosqlite alone, so the command imports neither SQLAlchemy
nor the models (issue 15: they were most of its start-up); on PostgreSQL,
the engine's own SQLAlchemy connection, with the same statements."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from engine.config import Settings


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from api.cli.status_report import live_heads, render_status
    from engine.rows import Unreadable, reading

    async def main() -> int:
        live = await live_heads(settings) if args.live else {}
        try:
            async with reading(settings.database_url) as rows:
                print(await render_status(rows, settings, datetime.now(UTC), live))
        except Unreadable as exc:
            print(
                f"error: cannot read the database ({exc.reason[:120]}); "
                "check USDTPAY_DATABASE_URL and run `usdtpay db upgrade`",
                file=sys.stderr,
            )
            return 2
        return 0

    return asyncio.run(main())


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="chain heads, cursors and lag (and other parts' sections)")
    p.add_argument("--live", action="store_true", help="ask the nodes for their heads now")


COMMANDS: dict[str, Command] = {"status": cmd_status}
