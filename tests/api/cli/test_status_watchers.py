"""`usdtpay status` shows a failing watcher with its last error and since
when; a second watcher for a chain already watched is refused at start,
naming the process that holds it."""

from __future__ import annotations

import pytest

from api.cli import main
from api.cli.status_report import render_status
from engine.settlement.lease import WatcherHeld
from tests.api.http.watcher_states import failing_watcher, lease_held_elsewhere, unreachable_settings
from tests.dbharness import Db
from watchers.readers import build_reader
from watchers.runner import streamer_config
from watchers.streamer import Streamer


async def test_status_shows_a_failing_watcher(db: Db) -> None:
    from datetime import UTC, datetime

    settings = unreachable_settings(db)
    streamer = await failing_watcher(db, settings)
    async with db.sessions() as session:
        text = await render_status(session, settings, datetime.now(UTC))
    eth = next(line for line in text.splitlines() if line.startswith("eth "))
    assert eth.split()[:3] == ["eth", "yes", "failing"], text
    assert f"! eth watcher ({streamer.holder}) failing since " in text
    assert "reading the heads: " in text
    assert "! tron is enabled but no watcher has run" in text


async def test_second_watcher_is_refused_naming_the_holder(db: Db) -> None:
    settings = unreachable_settings(db)
    first = await failing_watcher(db, settings)
    reader = build_reader(settings, "eth")
    second = Streamer(reader, db.sessions, streamer_config(settings, "eth"))
    with pytest.raises(WatcherHeld, match=f"already watched by process {first.holder}"):
        await second.claim(holder="otherhost:1")  # another process on another host
    await reader.aclose()


def test_usdtpay_watch_refuses_a_held_chain(
    db: Db, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    asyncio.run(lease_held_elsewhere(db, "eth"))
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    monkeypatch.setenv("USDTPAY_ETH__ENABLED", "true")
    monkeypatch.setenv("USDTPAY_ETH__RPC_URLS", '["http://127.0.0.1:9"]')
    code = main(["watch", "eth", "--until-caught-up"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the eth chain is already watched by process otherhost:4242" in err


async def test_a_killed_watchers_restart_takes_its_chain(db: Db) -> None:
    import socket
    import subprocess
    import sys

    settings = unreachable_settings(db)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process now
    readers = [build_reader(settings, "eth"), build_reader(settings, "eth")]
    killed, restart = (Streamer(r, db.sessions, streamer_config(settings, "eth")) for r in readers)
    await killed.claim(holder=f"{socket.gethostname()}:{dead.pid}")  # a lease it never released
    await restart.claim()  # not refused: the holder's process is gone
    with pytest.raises(WatcherHeld, match=f"already watched by process {restart.holder}"):
        await killed.claim(holder="otherhost:1")  # the new holder is alive: refused as before
    for reader in readers:
        await reader.aclose()
