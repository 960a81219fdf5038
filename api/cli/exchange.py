"""`usdtpay exchange add|list|check|disable|enable`: receiving accounts at
OKX, Binance and HTX (seed 004 type 2), and the body of
`usdtpay watch okx|binance|htx`.

Keys are read from the environment (EXCHANGE_API_KEY, _SECRET,
_PASSPHRASE) or asked for without echo, never from the command line where
the process list and shell history would keep them. A key is checked at the
exchange before it is stored, and refused unless it can only read.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.exchanges.ports import KeyCheck

ENV = {
    "key": "EXCHANGE_API_KEY",
    "secret": "EXCHANGE_API_SECRET",
    "passphrase": "EXCHANGE_API_PASSPHRASE",
}
TIME = "%Y-%m-%d %H:%M:%S"


def _ask(name: str, prompt: str, required: bool = True) -> str:
    value = os.environ.get(ENV[name], "")
    if not value and os.isatty(0):
        value = getpass.getpass(prompt)
    if required and not value:
        raise SystemExit(f"{prompt.strip(': ')} missing: set {ENV[name]} or run in a terminal")
    return value.strip()


def _show_check(check: KeyCheck) -> str:
    from engine.exchanges.ports import PLAT_OF

    notes = f" ({'; '.join(check.notes)})" if check.notes else ""
    rights = ", ".join(sorted(check.rights)) or "none"
    return f"{PLAT_OF[check.exchange]} uid {check.uid}, rights {rights}{notes}"


async def _with_sessions(settings: Settings, body: Any) -> int:
    from engine.db import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        result: int = await body(create_session_factory(engine))
        return result
    finally:
        await engine.dispose()


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.db import unit_of_work
    from engine.exchanges.accounts import Credentials, register_account
    from engine.exchanges.ports import PLAT_OF
    from watchers.errors import ProviderError
    from watchers.exchanges.build import reader_for

    key = _ask("key", "API key: ")
    secret = _ask("secret", "API secret: ")
    passphrase = _ask("passphrase", "API passphrase: ") if args.exchange == "okx" else ""
    credentials = Credentials(key, secret, passphrase)

    async def body(sessions: Any) -> int:
        reader = reader_for(args.exchange, credentials, settings)
        try:
            check = await reader.check_key()
        except ProviderError as exc:  # the exchange's words, never the secret
            print(f"error: {PLAT_OF[args.exchange]} did not accept the key: {exc}", file=sys.stderr)
            return 2
        finally:
            await reader.aclose()
        print(f"the key belongs to {_show_check(check)}")
        async with unit_of_work(sessions) as session:
            account = await register_account(
                session, credentials, check, secrets_key=settings.exchanges.secrets_key.get_secret_value(),
                now=now(), label=args.label or "", pay_to=args.pay_to or "",
            )  # fmt: skip
            print(f"exchange account #{account.id} added: payers send to {account.pay_to or account.uid}")
        if not settings.exchanges.secrets_key.get_secret_value():
            print("note: USDTPAY_EXCHANGES__SECRETS_KEY is not set, so the secret is stored unsealed")
        if args.exchange not in settings.exchanges.enabled:
            print(f"note: add {args.exchange} to USDTPAY_EXCHANGES__ENABLED for `usdtpay run` to watch it")
        return 0

    return asyncio.run(_with_sessions(settings, body))


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from engine.exchanges import queries
    from engine.exchanges.accounts import describe

    async def body(sessions: Any) -> int:
        async with sessions() as session:
            for account in await queries.list_accounts(session, args.exchange):
                cursor = await queries.cursor_of(session, account.id)
                seen = (
                    f"read up to {cursor.scanned_until:%Y-%m-%d %H:%M:%S}Z" if cursor else "not watched yet"
                )
                error = f"; last error: {cursor.last_error}" if cursor and cursor.last_error else ""
                print(f"{describe(account)}; {seen}{error}")
        return 0

    return asyncio.run(_with_sessions(settings, body))


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """Ask the exchange again; an account whose key can now do more than read is disabled."""
    from engine.db import unit_of_work
    from engine.exchanges import queries
    from engine.exchanges.accounts import record_check
    from watchers.exchanges.build import reader_for_account

    async def body(sessions: Any) -> int:
        async with sessions() as session:
            accounts = [a for a in await queries.list_accounts(session) if args.id in (None, a.id)]
        bad = 0
        for account in accounts:
            reader = reader_for_account(account, settings)
            try:
                check = await reader.check_key()
            except Exception as exc:  # one account's failure must not hide the others
                print(f"#{account.id} {account.exchange}: could not check ({type(exc).__name__}: {exc})")
                bad += 1
                continue
            finally:
                await reader.aclose()
            async with unit_of_work(sessions) as session:
                fresh = await queries.account_by_id(session, account.id)
                assert fresh is not None
                await record_check(session, fresh, check, now())
            verdict = (
                "ok (read only)"
                if check.read_only and check.uid == account.uid
                else "REFUSED, account disabled"
            )
            bad += verdict != "ok (read only)"
            print(f"#{account.id} {_show_check(check)}: {verdict}")
        return 1 if bad else 0

    return asyncio.run(_with_sessions(settings, body))


def _set_enabled(settings: Settings, account_id: int, enabled: bool) -> int:
    from engine.db import unit_of_work
    from engine.exchanges.accounts import describe, require_account, set_enabled

    async def body(sessions: Any) -> int:
        async with unit_of_work(sessions) as session:
            account = await require_account(session, account_id)
            await set_enabled(session, account, enabled)
            print(describe(account))
        return 0

    return asyncio.run(_with_sessions(settings, body))


def cmd_disable(settings: Settings, args: argparse.Namespace) -> int:
    return _set_enabled(settings, args.id, False)


def cmd_enable(settings: Settings, args: argparse.Namespace) -> int:
    return _set_enabled(settings, args.id, True)


def watch_exchange(settings: Settings, exchange: str, until_caught_up: bool) -> int:
    """`usdtpay watch okx|binance|htx`: every enabled account of the exchange."""
    from api.logging import configure_logging
    from engine.db import is_sqlite
    from engine.migrate import upgrade
    from watchers.exchanges.loop import ExchangeWatcher

    configure_logging(settings)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)

    async def body(sessions: Any) -> int:
        watcher = ExchangeWatcher(settings, sessions, exchange)
        if not until_caught_up:
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await watcher.run(stop)  # refused (WatcherHeld) while another process watches
            return 0
        await watcher.claim()
        try:
            while True:
                results = await watcher.step_all()
                if not results:
                    print(f"{exchange}: no enabled account could be read (see `usdtpay exchange list`)")
                    return 1
                if all(r.window.caught_up for r in results):
                    for r in results:
                        print(f"{exchange} account #{r.account_id}: caught up at {r.window.end:{TIME}}Z")
                    return 0
        finally:
            await watcher.aclose()

    return asyncio.run(_with_sessions(settings, body))


def register(sub: Any) -> None:
    from engine.exchanges.ports import EXCHANGES

    group = sub.add_parser("exchange", help="receiving accounts at OKX / Binance / HTX (read-only API keys)")
    commands = group.add_subparsers(dest="sub", required=True)
    add = commands.add_parser("add", help="check a read-only key at the exchange and store its account")
    add.add_argument("exchange", choices=EXCHANGES)
    add.add_argument("--label", help="a name for operators")
    add.add_argument("--pay-to", help="what payers send to, as the exchange shows it (default: the uid)")
    listing = commands.add_parser("list", help="accounts, their rights and how far each was read")
    listing.add_argument("--exchange", choices=EXCHANGES)
    check = commands.add_parser("check", help="check the stored keys again (exit 1 if one is refused)")
    check.add_argument("id", type=int, nargs="?")
    for name, text in (("disable", "stop watching and offering an account"), ("enable", "enable it again")):
        commands.add_parser(name, help=text).add_argument("id", type=int)


COMMANDS: dict[str, Command] = {
    "exchange add": cmd_add,
    "exchange list": cmd_list,
    "exchange check": cmd_check,
    "exchange disable": cmd_disable,
    "exchange enable": cmd_enable,
}
