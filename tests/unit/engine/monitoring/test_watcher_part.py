"""/api/health's judgement of a chain watcher (engine.monitoring.health.
watcher_part): a watcher that stopped is reported stopped, also when it
stopped before it wrote its first cursor (it ran: "has not run yet" would
send the operator to start one instead of looking at why it stopped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.monitoring import NEVER_STARTED, RUNNING, STOPPED, ChainStatus
from engine.monitoring.health import watcher_part

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def status(watcher: str, *, cursor: bool) -> ChainStatus:
    return ChainStatus(
        chain="tron", enabled=True, head=120, final_head=100, next_block=90 if cursor else None,
        updated_at=NOW - timedelta(seconds=5) if cursor else None, watcher=watcher,
        holder="vm:7" if watcher != NEVER_STARTED else None,
        heartbeat_at=NOW - timedelta(seconds=400) if watcher != NEVER_STARTED else None,
    )  # fmt: skip


def test_stopped_before_its_first_cursor_is_stopped_not_never_run() -> None:
    part = watcher_part(status(STOPPED, cursor=False), 3.0, NOW)
    assert part["status"] == "DOWN"
    assert part["message"] == "the watcher stopped before it read a block (process vm:7, last seen 400 s ago)"


def test_stopped_after_reading_keeps_its_progress_figures() -> None:
    part = watcher_part(status(STOPPED, cursor=True), 3.0, NOW)
    assert part["message"] == "the watcher stopped (process vm:7, last seen 400 s ago)"
    assert (part["next_block"], part["head"], part["seconds_since_update"]) == (90, 120, 5)
    assert list(part) == [
        "status",
        "watcher",
        "holder",
        "next_block",
        "head",
        "seconds_since_update",
        "message",
    ]


def test_never_started_says_so() -> None:
    part = watcher_part(status(NEVER_STARTED, cursor=False), 3.0, NOW)
    assert part["message"] == "the watcher has not run yet; start `usdtpay watch`"


def test_a_running_watcher_with_a_fresh_cursor_is_up() -> None:
    assert watcher_part(status(RUNNING, cursor=True), 3.0, NOW)["status"] == "UP"
