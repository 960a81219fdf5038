"""Every command and group of `usdtpay` says what it does in --help; a command
builds its own group's parser alone."""

from __future__ import annotations

import argparse

import pytest

from api.cli import build_parser, group_named


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


@pytest.mark.parametrize(
    ("argv", "group"),
    [
        (["status"], "status"),
        (["--config", "c.toml", "status", "--live"], "status"),
        (["--config=c.toml", "db", "upgrade"], "db"),
        (["--config", "status", "watch", "eth"], "watch"),  # the file may have any name
        (["run"], "serve"),
        (["--help"], None),
        (["--conf", "status", "watch"], None),  # an abbreviation: argparse decides
        (["stauts"], None),  # a usage error lists every command
        ([], None),
    ],
)
def test_a_command_loads_its_own_group_only(argv: list[str], group: str | None) -> None:
    assert group_named(argv) == group


def test_one_group_parses_its_command_as_all_groups_do() -> None:
    argv = ["--config", "c.toml", "status", "--live"]
    alone, commands = build_parser("status")
    assert vars(alone.parse_args(argv)) == vars(build_parser()[0].parse_args(argv))
    assert set(commands) == {"status"}
