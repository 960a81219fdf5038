"""`usdtpay admin add|list|seal-totp|disable`: operator console accounts.

The console under /admin stays off (404) until the first account exists.
`add` asks for the password twice (or reads one line from stdin with
--password-stdin, for scripts) and prints the TOTP secret once, as text,
as an otpauth:// URI and as a QR code for an authenticator app; the
database keeps it sealed with USDTPAY_ADMIN__TOTP_KEY (engine.totp_sealing).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now, run_db

if TYPE_CHECKING:
    from engine.config import Settings


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        print("error: the two passwords differ", file=sys.stderr)
        return None
    return first


def _print_secret(username: str, secret: str, uri: str) -> None:
    import segno

    print(f"operator account {username} added.")
    print("Add this TOTP secret to an authenticator app now; it is not shown again:")
    print(f"  secret: {secret}")
    print(f"  uri:    {uri}")
    if sys.stdout.isatty():
        segno.make(uri, error="m").terminal(compact=True)


def cmd_admin_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.admin.service import add_account, record

    if not settings.admin.totp_key.get_secret_value():
        print(
            "error: set USDTPAY_ADMIN__TOTP_KEY first (e.g. `openssl rand -base64 32`, kept out of the "
            "database like the other secrets); TOTP secrets are stored sealed with it",
            file=sys.stderr,
        )
        return 2
    password = _read_password(args)
    if password is None:
        return 2

    async def fn(session: Any) -> int:
        new = await add_account(session, args.username, password, args.role, now())
        await record(
            session, "cli", "add_account", now(), target=f"account:{args.username}", after={"role": args.role}
        )
        _print_secret(new.account.username, new.totp_secret, new.totp_uri)
        return 0

    return run_db(settings, fn)


def cmd_admin_list(settings: Settings, _: argparse.Namespace) -> int:
    from engine.admin.queries import list_accounts, plain_totp_accounts

    async def fn(session: Any) -> int:
        if plain := await plain_totp_accounts(session):
            print(
                f"note: {len(plain)} account(s) keep their TOTP secret unsealed: set USDTPAY_ADMIN__TOTP_KEY "
                "and run `usdtpay admin seal-totp`",
                file=sys.stderr,
            )
        accounts = await list_accounts(session)
        if not accounts:
            print("no operator account: the console is off (add one with `usdtpay admin add NAME`)")
        for a in accounts:
            last = f"{a.last_login_at:%Y-%m-%d %H:%M}Z" if a.last_login_at else "never"
            state = "enabled" if a.enabled else "disabled"
            print(f"{a.username}\t{a.role}\t{state}\tlast sign-in {last}")
        return 0

    return run_db(settings, fn)


def cmd_admin_seal_totp(settings: Settings, _: argparse.Namespace) -> int:
    """Seal the TOTP secrets stored plain before admin.totp_key was set."""
    from sqlalchemy.orm.attributes import flag_modified

    from engine.admin.queries import plain_totp_accounts

    if not settings.admin.totp_key.get_secret_value():
        print("error: set USDTPAY_ADMIN__TOTP_KEY first; it seals the secrets", file=sys.stderr)
        return 2

    async def fn(session: Any) -> int:
        accounts = await plain_totp_accounts(session)
        for account in accounts:
            flag_modified(account, "totp_secret")  # written back through the sealing column type
        print(f"{len(accounts)} TOTP secret(s) sealed; the authenticator apps keep working")
        return 0

    return run_db(settings, fn)


def cmd_admin_disable(settings: Settings, args: argparse.Namespace) -> int:
    from engine.admin.queries import account_by_username
    from engine.admin.service import record

    async def fn(session: Any) -> int:
        account = await account_by_username(session, args.username)
        if account is None:
            print(f"error: no operator account {args.username}", file=sys.stderr)
            return 2
        account.enabled = False
        await record(
            session,
            "cli",
            "disable_account",
            now(),
            target=f"account:{args.username}",
            before={"enabled": True},
            after={"enabled": False},
        )
        print(f"operator account {args.username} disabled; its sessions end at their next request")
        return 0

    return run_db(settings, fn)


def register(sub: Any) -> None:
    admin = sub.add_parser("admin", help="operator console accounts").add_subparsers(
        dest="sub", required=True
    )
    add = admin.add_parser("add", help="add an account (password + TOTP); the first one turns the console on")
    add.add_argument("username")
    add.add_argument(
        "--role",
        choices=["operator", "support"],
        default="operator",
        help="operator: everything; support: read and resend notifications only",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    admin.add_parser("list", help="accounts and their last sign-in")
    admin.add_parser("seal-totp", help="seal TOTP secrets stored before USDTPAY_ADMIN__TOTP_KEY was set")
    disable = admin.add_parser("disable", help="disable an account (it can no longer sign in)")
    disable.add_argument("username")


COMMANDS: dict[str, Command] = {
    "admin add": cmd_admin_add,
    "admin list": cmd_admin_list,
    "admin seal-totp": cmd_admin_seal_totp,
    "admin disable": cmd_admin_disable,
}
