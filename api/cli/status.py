"""`usdtpay status [--live]`: chains (head, final head, cursor, lag) and the
other sections registered in api.cli.status_report."""

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
    from sqlalchemy.exc import DBAPIError

    from api.cli.status_report import live_heads, render_status
    from engine.db import create_engine, create_session_factory

    async def main() -> int:
        live = await live_heads(settings) if args.live else {}
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                print(await render_status(session, settings, datetime.now(UTC), live))
        except DBAPIError as exc:
            print(
                f"error: cannot read the database ({str(exc.orig)[:120]}); "
                "check USDTPAY_DATABASE_URL and run `usdtpay db upgrade`",
                file=sys.stderr,
            )
            return 2
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(main())


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="chain heads, cursors and lag (and other parts' sections)")
    p.add_argument("--live", action="store_true", help="ask the nodes for their heads now")


COMMANDS: dict[str, Command] = {"status": cmd_status}
