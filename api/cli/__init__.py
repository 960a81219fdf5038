"""The `usdtpay` command line.

One registry: each command group is a module here with `register(sub)`
(its argparse parsers) and `COMMANDS` ({"group sub": fn(settings, args)}).
A new group is a new module plus its name in `GROUPS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from api.cli.common import Command
from engine.config import load_settings
from engine.errors import UsdtPayError

GROUPS = (
    "serve",
    "db",
    "merchant",
    "wallet",
    "rate",
    "watch",
    "notify",
    "status",
    "export",
    "reconcile",
    "admin",
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="usdtpay", description="USDT settlement engine")
    parser.add_argument("--config", help="TOML settings file (environment variables win)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    commands: dict[str, Command] = {}
    for name in GROUPS:
        module = importlib.import_module(f"api.cli.{name}")
        module.register(sub)
        commands.update(module.COMMANDS)
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    name = args.cmd if getattr(args, "sub", None) is None else f"{args.cmd} {args.sub}"
    try:
        return commands[name](settings, args)
    except UsdtPayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
