"""`usdtpay merchant add|list`: the merchants that may create orders."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli.common import Command, now, run_db
from engine.config import Settings


def cmd_merchant_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import add_merchant

    async def fn(session: Any) -> int:
        merchant = await add_merchant(session, args.pid, args.key, args.name or "", now())
        print(f"merchant {merchant.pid} added")
        return 0

    return run_db(settings, fn)


def cmd_merchant_list(settings: Settings, _: argparse.Namespace) -> int:
    from engine.merchants import list_merchants

    async def fn(session: Any) -> int:
        for m in await list_merchants(session):
            # The key is a secret: show only enough to tell keys apart.
            print(f"{m.pid}\t{m.name}\tkey={m.key[:4]}…\tcreated {m.created_at:%Y-%m-%d %H:%M}Z")
        return 0

    return run_db(settings, fn)


def register(sub: Any) -> None:
    merchant = sub.add_parser("merchant", help="merchants").add_subparsers(dest="sub", required=True)
    add = merchant.add_parser("add", help="register a merchant with its signing key")
    add.add_argument("--pid", required=True)
    add.add_argument("--key", required=True)
    add.add_argument("--name")
    merchant.add_parser("list", help="merchants, keys masked")


COMMANDS: dict[str, Command] = {"merchant add": cmd_merchant_add, "merchant list": cmd_merchant_list}
