"""`usdtpay db upgrade`: apply the migrations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from engine.config import Settings


def cmd_db_upgrade(settings: Settings, _: argparse.Namespace) -> int:
    from engine.migrate import upgrade

    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url.split('@')[-1]}")
    return 0


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="the database").add_subparsers(dest="sub", required=True)
    db.add_parser("upgrade", help="apply migrations")


COMMANDS: dict[str, Command] = {"db upgrade": cmd_db_upgrade}
