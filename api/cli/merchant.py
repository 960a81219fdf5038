"""`usdtpay merchant add|list|disable|enable|remove|rotate-key`: the
merchants that may create orders."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now, run_db
from engine.errors import BadInput

if TYPE_CHECKING:
    from engine.config import Settings


def read_signing_key(source: str | None) -> tuple[str, bool]:
    """The signing key from a file, or stdin with `-` (a prompt on a
    terminal), never from the command line, where `ps` and shell history
    would show it; None: a new random key. Returns (key, generated)."""
    if source is None:
        return secrets.token_hex(24), True
    if source == "-":
        text = getpass.getpass("signing key: ") if sys.stdin.isatty() else sys.stdin.readline()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read the signing key from {source}: {exc.__class__.__name__}") from exc
    return text.strip(), False


def cmd_merchant_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchant_keys import new_api_key
    from engine.merchants import add_merchant

    key, generated = read_signing_key(args.key_file)
    api_key = new_api_key()

    async def fn(session: Any) -> int:
        merchant = await add_merchant(session, args.pid, key, args.name or "", now(), api_key=api_key)
        print(f"merchant {merchant.pid} added")
        # Shown once: only the API key's hash is kept.
        if generated:
            print(f"signing key (for signatures; keep it secret): {key}")
        print(f"API key (X-Api-Key: {merchant.pid}:<API key>; not for signing): {api_key}")
        return 0

    return run_db(settings, fn)


def cmd_merchant_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import issue_api_key

    async def fn(session: Any) -> int:
        api_key = await issue_api_key(session, args.pid)
        print(f"merchant {args.pid}: new API key (the old one stops working): {api_key}")
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
    # No abbreviations: `--key <secret>` must not pass as `--key-file`.
    add = merchant.add_parser("add", help="register a merchant with its signing key", allow_abbrev=False)
    add.add_argument("--pid", required=True, help="the merchant id sent as `pid`")
    add.add_argument(
        "--key-file",
        metavar="FILE",
        help="read the signing key (at least 16 characters) from FILE, or `-` for stdin; "
        "without it a random key is made and printed once (never pass a key on the command line)",
    )
    add.add_argument("--name", help="a name for operators")
    merchant.add_parser("list", help="merchants, keys masked")
    api_key = merchant.add_parser(
        "api-key", help="issue a new API key (X-Api-Key), printed once; the old one stops working"
    )
    api_key.add_argument("--pid", required=True, help="the merchant id")
    for action, text in PID_ACTIONS.items():
        p = merchant.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--pid", required=True, help="the merchant id")


COMMANDS: dict[str, Command] = {
    "merchant add": cmd_merchant_add,
    "merchant list": cmd_merchant_list,
    "merchant api-key": cmd_merchant_api_key,
    **{f"merchant {action}": _pid_command(action) for action in PID_ACTIONS},
}
