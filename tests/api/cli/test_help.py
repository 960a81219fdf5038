"""Every command and group of `usdtpay` says what it does in --help."""

from __future__ import annotations

import argparse

from api.cli import build_parser


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, str | None]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((f"{prefix}{name}", helps.get(name)))
                found += _subcommands(sub, f"{prefix}{name} ")
    return found


def test_every_command_and_group_has_help() -> None:
    parser, commands = build_parser()
    listed = _subcommands(parser)
    missing = [name for name, text in listed if not text]
    assert not missing, f"no help text: {missing}"
    names = {name for name, _ in listed}
    assert set(commands) <= names
