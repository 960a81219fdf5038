"""`usdtpay wallet add|list`: the watch-only receiving addresses."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli.common import Command, now, run_db
from engine.config import Settings


def cmd_wallet_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import add_wallet

    async def fn(session: Any) -> int:
        wallet = await add_wallet(session, args.chain, args.address, now(), args.label or "")
        print(f"wallet {wallet.address} on {wallet.chain} added (watch-only)")
        return 0

    return run_db(settings, fn)


def cmd_wallet_list(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import list_wallets

    async def fn(session: Any) -> int:
        for w in await list_wallets(session, args.chain):
            print(f"{w.chain}\t{w.address}\t{'enabled' if w.enabled else 'disabled'}\t{w.label}")
        return 0

    return run_db(settings, fn)


def register(sub: Any) -> None:
    wallet = sub.add_parser("wallet", help="receiving addresses").add_subparsers(dest="sub", required=True)
    wadd = wallet.add_parser("add", help="add a watch-only receiving address")
    wadd.add_argument("--chain", required=True, choices=["tron", "eth"])
    wadd.add_argument("--address", required=True)
    wadd.add_argument("--label")
    wlist = wallet.add_parser("list", help="receiving addresses")
    wlist.add_argument("--chain", choices=["tron", "eth"])


COMMANDS: dict[str, Command] = {"wallet add": cmd_wallet_add, "wallet list": cmd_wallet_list}
