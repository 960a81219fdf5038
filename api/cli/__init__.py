"""The `usdtpay` command line.

One registry: each command group is a module here with `register(sub)`
(its argparse parsers) and `COMMANDS` ({"group sub": fn(settings, args)}).
A new group is a new module plus its name in `GROUPS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from api.cli.common import Command
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
    "exchange",
    "admin",
    "config",
    "demo",
)


# Top-level commands registered by a group of another name.
GROUP_OF = {"run": "serve"}


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The parser and commands of every group, or of group `only` alone."""
    parser = argparse.ArgumentParser(
        prog="usdtpay",
        description="USDT settlement engine. Every command reads the same settings: --config FILE, "
        "else $USDTPAY_CONFIG, else ./usdtpay.toml or /etc/usdtpay/usdtpay.toml; USDTPAY_* "
        "environment variables win over the file. `usdtpay config check` shows the result.",
    )
    parser.add_argument("--config", help="TOML settings file (environment variables win over it)")
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    commands: dict[str, Command] = {}
    for name in GROUPS if only is None else (only,):
        module = importlib.import_module(f"api.cli.{name}")
        module.register(sub)
        commands.update(module.COMMANDS)
    return parser, commands


def group_named(argv: list[str]) -> str | None:
    """The group whose command `argv` runs, when that is certain; else None
    (help, a usage error, an option argparse would expand): every group is
    then registered, so the answer is the same. A command imports its own
    group alone (`usdtpay status` does not load the others' modules)."""
    rest = iter(argv)
    for word in rest:
        if word == "--config":
            next(rest, None)
        elif not word.startswith("--config="):
            group = GROUP_OF.get(word, word)
            return group if group in GROUPS else None
    return None


def _quiet_stdout() -> None:
    """After a closed pipe (`usdtpay status | head`): no second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, commands = build_parser(group_named(argv))
    args = parser.parse_args(argv)
    # Settings (pydantic) and what they need load only now: `--help` and a
    # usage error answer without them.
    from engine import merchant_keys, totp_sealing
    from engine.config_file import ConfigError, load

    try:
        settings, args.config_path = load(args.config)
    except ConfigError as exc:
        print(f"config error: {exc.message}", file=sys.stderr)
        return 2
    name = args.cmd if getattr(args, "sub", None) is None else f"{args.cmd} {args.sub}"
    merchant_keys.configure(settings.merchant_keys_secret.get_secret_value())
    totp_sealing.configure(settings.admin.totp_key.get_secret_value())
    try:
        code = commands[name](settings, args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except UsdtPayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return 0
