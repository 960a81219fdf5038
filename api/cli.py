"""`usdtpay` command line: serve, run, db, merchant, wallet, rate."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from engine.config import Settings, load_settings
from engine.db import create_engine, create_session_factory, is_sqlite
from engine.errors import UsdtPayError
from engine.migrate import upgrade

Command = Callable[[Settings, argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def run_db(settings: Settings, fn: Callable[[Any], Awaitable[int]]) -> int:
    """Run `fn(session)` in a committed unit of work."""

    async def main() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                code = await fn(session)
                await session.commit()
                return code
        finally:
            await engine.dispose()

    return asyncio.run(main())


def now() -> datetime:
    return datetime.now(UTC)


@command("db upgrade")
def cmd_db_upgrade(settings: Settings, _: argparse.Namespace) -> int:
    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url.split('@')[-1]}")
    return 0


@command("serve")
def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from api.runner import serve

    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    return serve(settings, args.host, args.port, with_workers=False)


@command("run")
def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from api.runner import serve

    upgrade(settings.database_url)
    return serve(settings, args.host, args.port, with_workers=True)


@command("merchant add")
def cmd_merchant_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import add_merchant

    async def fn(session: Any) -> int:
        merchant = await add_merchant(session, args.pid, args.key, args.name or "", now())
        print(f"merchant {merchant.pid} added")
        return 0

    return run_db(settings, fn)


@command("merchant list")
def cmd_merchant_list(settings: Settings, _: argparse.Namespace) -> int:
    from engine.merchants import list_merchants

    async def fn(session: Any) -> int:
        for m in await list_merchants(session):
            # The key is a secret: show only enough to tell keys apart.
            print(f"{m.pid}\t{m.name}\tkey={m.key[:4]}…\tcreated {m.created_at:%Y-%m-%d %H:%M}Z")
        return 0

    return run_db(settings, fn)


@command("wallet add")
def cmd_wallet_add(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import add_wallet

    async def fn(session: Any) -> int:
        wallet = await add_wallet(session, args.chain, args.address, now(), args.label or "")
        print(f"wallet {wallet.address} on {wallet.chain} added (watch-only)")
        return 0

    return run_db(settings, fn)


@command("wallet list")
def cmd_wallet_list(settings: Settings, args: argparse.Namespace) -> int:
    from engine.merchants import list_wallets

    async def fn(session: Any) -> int:
        for w in await list_wallets(session, args.chain):
            print(f"{w.chain}\t{w.address}\t{'enabled' if w.enabled else 'disabled'}\t{w.label}")
        return 0

    return run_db(settings, fn)


@command("rate show")
def cmd_rate_show(settings: Settings, _: argparse.Namespace) -> int:
    from engine.rates.service import current_quote, latest

    async def fn(session: Any) -> int:
        try:
            quote = await current_quote(session, settings, now())
        except UsdtPayError as exc:
            snapshot = await latest(session)
            print(f"rate unavailable: {exc.message}")
            if snapshot is not None:
                print(f"last: {snapshot.rate} at {snapshot.fetched_at:%Y-%m-%d %H:%M:%S}Z {snapshot.sources}")
            return 1
        age = int((now() - quote.fetched_at).total_seconds())
        print(f"CNY per USDT: {quote.rate}  (age {age} s{', fixed' if quote.fixed else ''})")
        for name, value in quote.sources.items():
            print(f"  {name}: {value}")
        return 0

    return run_db(settings, fn)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usdtpay", description="USDT settlement engine")
    parser.add_argument("--config", help="TOML settings file (environment variables win)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("serve", "run"):
        p = sub.add_parser(name, help="API only" if name == "serve" else "API and background workers")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    db = sub.add_parser("db").add_subparsers(dest="sub", required=True)
    db.add_parser("upgrade", help="apply migrations")
    merchant = sub.add_parser("merchant").add_subparsers(dest="sub", required=True)
    add = merchant.add_parser("add")
    add.add_argument("--pid", required=True)
    add.add_argument("--key", required=True)
    add.add_argument("--name")
    merchant.add_parser("list")
    wallet = sub.add_parser("wallet").add_subparsers(dest="sub", required=True)
    wadd = wallet.add_parser("add")
    wadd.add_argument("--chain", required=True, choices=["tron", "eth"])
    wadd.add_argument("--address", required=True)
    wadd.add_argument("--label")
    wlist = wallet.add_parser("list")
    wlist.add_argument("--chain", choices=["tron", "eth"])
    rate = sub.add_parser("rate").add_subparsers(dest="sub", required=True)
    rate.add_parser("show")
    for module in command_modules():
        module.register(sub)
        COMMANDS.update(module.COMMANDS)
    return parser


def command_modules() -> list[Any]:
    """Sub-command modules under api/commands (watch, notify, status, ...)."""
    import importlib
    import pkgutil

    import api.commands

    names = sorted(m.name for m in pkgutil.iter_modules(api.commands.__path__))
    return [importlib.import_module(f"api.commands.{name}") for name in names]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(args.config)
    name = args.cmd if getattr(args, "sub", None) is None else f"{args.cmd} {args.sub}"
    try:
        return COMMANDS[name](settings, args)
    except UsdtPayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
