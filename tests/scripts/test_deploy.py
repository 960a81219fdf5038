"""The deployment files: the example configuration names every setting with
its default (and loads as exactly the defaults); the systemd units run
commands the `usdtpay` parser accepts, all with the one settings file."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from api.cli import build_parser
from engine.config import Settings
from engine.config_file import load, setting_names
from scripts.deploy.example_config import render
from tests.paths import ROOT

DEPLOY = ROOT / "scripts" / "deploy"
EXAMPLE = DEPLOY / "usdtpay.example.toml"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("USDTPAY_"):
            monkeypatch.delenv(name)


def test_example_loads_as_the_defaults(clean_env: None) -> None:
    settings, path = load(str(EXAMPLE))
    assert path == EXAMPLE
    assert settings.model_dump() == Settings().model_dump()


def test_example_names_every_setting() -> None:
    text = EXAMPLE.read_text()
    group = ""
    present = set()
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1] + "."
        elif (" =" in line and not line.startswith("# ")) or (line.startswith("# ") and line.endswith(" =")):
            present.add(group + line.removeprefix("# ").split(" =")[0].strip())
    missing = {name for name, _ in setting_names()} - present
    assert not missing, f"not in the example: {sorted(missing)}; run python -m scripts.deploy.example_config"


def test_example_is_up_to_date() -> None:
    assert EXAMPLE.read_text() == render(), "run: python -m scripts.deploy.example_config > " + str(EXAMPLE)


def _exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0].endswith("/usdtpay")
    return [w.replace("%i", "eth") for w in words[1:]]


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_units_run_real_commands_with_the_settings_file(unit: Path) -> None:
    parser, commands = build_parser()
    args = parser.parse_args(_exec_start(unit))
    name = args.cmd if getattr(args, "sub", None) is None else f"{args.cmd} {args.sub}"
    assert name in commands
    assert "Environment=USDTPAY_CONFIG=/etc/usdtpay/usdtpay.toml" in unit.read_text()


def test_the_split_units_cover_what_run_leaves_out() -> None:
    names = {u.name for u in UNITS}
    assert {
        "usdtpay.service",
        "usdtpay-api.service",
        "usdtpay-watch@.service",
        "usdtpay-notify.service",
    } <= names
    api = build_parser()[0].parse_args(_exec_start(DEPLOY / "systemd" / "usdtpay-api.service"))
    assert set(api.without) == {"watch-tron", "watch-eth", "notifier"}
