"""`usdtpay merchant add|list|disable|enable|remove|rotate-key`: the
merchants that may create orders."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now, run_db

if TYPE_CHECKING:
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


def _pid_command(action: str) -> Command:
    """disable / enable / remove / rotate-key: one merchant by --pid."""

    def command(settings: Settings, args: argparse.Namespace) -> int:
        from engine.admin.operations import rotate_merchant_key, set_merchant_enabled
        from engine.merchants import remove_merchant

        async def fn(session: Any) -> int:
            if action in ("disable", "enable"):
                await set_merchant_enabled(session, args.pid, action == "enable")
                print(f"merchant {args.pid} {action}d")
            elif action == "remove":
                await remove_merchant(session, args.pid)
                print(f"merchant {args.pid} removed")
            else:
                key, _ = await rotate_merchant_key(session, args.pid)
                # Shown once, like `add`: the old key stops working now.
                print(f"merchant {args.pid}: new signing key {key}")
            return 0

        return run_db(settings, fn)

    return command


PID_ACTIONS = {
    "disable": "stop a merchant's requests (its orders stay; `enable` undoes it)",
    "enable": "let a disabled merchant create and query orders again",
    "remove": "delete a merchant that has no orders (refused while any exist: disable it instead)",
    "rotate-key": "give a merchant a new random signing key, printed once; the old key stops working",
}


def register(sub: Any) -> None:
    merchant = sub.add_parser(
        "merchant", help="merchants that may create orders", description="Merchants and their signing keys."
    ).add_subparsers(dest="sub", required=True, metavar="SUBCOMMAND")
    add = merchant.add_parser("add", help="register a merchant with its signing key")
    add.add_argument("--pid", required=True, help="the merchant id sent as `pid`")
    add.add_argument("--key", required=True, help="the signing key (at least 16 characters)")
    add.add_argument("--name", help="a name for operators")
    merchant.add_parser("list", help="merchants, keys masked")
    for action, text in PID_ACTIONS.items():
        p = merchant.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--pid", required=True, help="the merchant id")


COMMANDS: dict[str, Command] = {
    "merchant add": cmd_merchant_add,
    "merchant list": cmd_merchant_list,
    **{f"merchant {action}": _pid_command(action) for action in PID_ACTIONS},
}
