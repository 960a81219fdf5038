"""/api/health's judgement of an exchange watcher (engine.monitoring.health.
exchange_part): behind past ops.lag_seconds_degraded is DEGRADED, no
successful poll for ten polls is DOWN, no enabled account is DEGRADED."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engine.config import OpsSettings
from engine.monitoring import RUNNING, ExchangeStatus
from engine.monitoring.health import exchange_part

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OPS = OpsSettings()  # lag_seconds_degraded 300


def running(lag: float, since_update: float) -> ExchangeStatus:
    return ExchangeStatus(
        exchange="okx", enabled=True, accounts=1, unread=0,
        scanned_until=NOW - timedelta(seconds=lag), open_since=None,
        updated_at=NOW - timedelta(seconds=since_update), lag_seconds=lag,
        seconds_since_update=since_update, watcher=RUNNING, holder="vm:1",
    )  # fmt: skip


def test_a_caught_up_watcher_is_up() -> None:
    part = exchange_part(running(8, 8), OPS, 10.0, NOW)
    assert part["status"] == "UP" and part["lag_seconds"] == 8 and "message" not in part


def test_catching_up_past_the_lag_threshold_is_degraded() -> None:
    part = exchange_part(running(3600, 2), OPS, 10.0, NOW)
    assert part["status"] == "DEGRADED" and "3600 s behind" in part["message"]


def test_no_successful_poll_for_ten_polls_is_down() -> None:
    part = exchange_part(running(101, 101), OPS, 10.0, NOW)
    assert part["status"] == "DOWN" and "no successful poll for 101 s" in part["message"]


def test_an_exchange_without_an_enabled_account_is_degraded() -> None:
    status = replace(running(0, 0), accounts=0, scanned_until=None, lag_seconds=None)
    part = exchange_part(status, OPS, 10.0, NOW)
    assert part["status"] == "DEGRADED" and "usdtpay exchange add okx" in part["message"]
