"""`usdtpay wallet add|list|disable|enable|remove`: the watch-only
receiving addresses."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now, run_db

if TYPE_CHECKING:
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
        wallets = await list_wallets(session, args.chain)
        for w in wallets:
            print(f"{w.chain}\t{w.address}\t{'enabled' if w.enabled else 'disabled'}\t{w.label}")
        if not wallets:  # said on stderr, so a script reading the list reads none
            which = f"{args.chain} " if args.chain else ""
            print(
                f"no {which}receiving addresses yet: `usdtpay wallet add --chain tron|eth --address ADDR`",
                file=sys.stderr,
            )
        return 0

    return run_db(settings, fn)


def _address_command(action: str) -> Command:
    """disable / enable / remove: one wallet by --chain and --address."""

    def command(settings: Settings, args: argparse.Namespace) -> int:
        from engine.admin.operations import set_wallet_enabled
        from engine.merchants import find_wallet, remove_wallet

        async def fn(session: Any) -> int:
            if action == "remove":
                wallet = await remove_wallet(session, args.chain, args.address, now())
                print(f"wallet {wallet.address} on {wallet.chain} removed")
                return 0
            wallet = await find_wallet(session, args.chain, args.address)
            await set_wallet_enabled(session, wallet.id, action == "enable")
            print(f"wallet {wallet.address} on {wallet.chain} {action}d")
            return 0

        return run_db(settings, fn)

    return command


ADDRESS_ACTIONS = {
    "disable": "take no new orders on an address (it is still watched for orders it already has)",
    "enable": "let a disabled address take new orders again",
    "remove": "delete an address no live order uses (refused while an order amount is held on it)",
}


def register(sub: Any) -> None:
    wallet = sub.add_parser(
        "wallet", help="watch-only receiving addresses", description="The addresses payers send USDT to."
    ).add_subparsers(dest="sub", required=True, metavar="SUBCOMMAND")
    wadd = wallet.add_parser("add", help="add a watch-only receiving address")
    wadd.add_argument(
        "--chain", required=True, choices=["tron", "eth"], help="TRON (TRC20) or Ethereum (ERC20)"
    )
    wadd.add_argument("--address", required=True, help="base58 (TRON) or 0x checksummed (Ethereum)")
    wadd.add_argument("--label", help="a note for operators")
    wlist = wallet.add_parser("list", help="receiving addresses")
    wlist.add_argument("--chain", choices=["tron", "eth"], help="only this chain")
    for action, text in ADDRESS_ACTIONS.items():
        p = wallet.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--chain", required=True, choices=["tron", "eth"], help="the address's chain")
        p.add_argument("--address", required=True, help="the address")


COMMANDS: dict[str, Command] = {
    "wallet add": cmd_wallet_add,
    "wallet list": cmd_wallet_list,
    **{f"wallet {action}": _address_command(action) for action in ADDRESS_ACTIONS},
}
