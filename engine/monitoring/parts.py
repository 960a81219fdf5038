"""How each watcher part of the service's health is judged from its figures:
UP, DEGRADED or DOWN, with the message an operator acts on. Pure functions of
engine.monitoring.figures' values: engine.monitoring.health reads the figures
and calls them for /api/health and the console; `usdtpay status` shows
exchange_part's messages for its exchanges, without the database layer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.config import OpsSettings
from engine.monitoring.figures import FAILING, NEVER_STARTED, STOPPED, ChainStatus, ExchangeStatus

UP, DOWN, DEGRADED = "UP", "DOWN", "DEGRADED"
# A watcher whose cursor row has not moved for this many poll intervals
# (and at least the floor) is reported stale.
STALE_POLLS = 10
STALE_FLOOR_SECONDS = 60


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def watcher_part(s: ChainStatus, poll_seconds: float, now: datetime) -> dict[str, Any]:
    """One chain's watcher: failing and stopped are told apart from never started."""
    part: dict[str, Any] = {"status": UP, "watcher": s.watcher, "holder": s.holder}
    if s.watcher == FAILING:
        seconds = int(s.failing_seconds(now))
        part.update(
            status=DOWN,
            failing_since=_when(s.failing_since),
            failing_seconds=seconds,
            last_error=s.last_error,
            message=f"failing since {_when(s.failing_since)} ({seconds} s): {s.last_error}; "
            "check the node URL, its API keys and the network",
        )
        return part
    if s.watcher == STOPPED:
        # Before the cursor test: a watcher that stopped before it wrote one
        # did run, and "has not run yet" would send the operator the wrong way.
        part.update(_progress(s, now))
        part.update(status=DOWN, message=_stopped(s, now))
        return part
    if s.updated_at is None:
        return {**part, "status": DOWN, "message": "the watcher has not run yet; start `usdtpay watch`"}
    age = (now - s.updated_at).total_seconds()
    limit = max(STALE_FLOOR_SECONDS, STALE_POLLS * poll_seconds)
    part.update(_progress(s, now))
    if age > limit:
        part.update(
            status=DOWN, message=f"no progress for {int(age)} s; check the watcher process and its node"
        )
    return part


def _stopped(s: ChainStatus, now: datetime) -> str:
    seen = int((now - s.heartbeat_at).total_seconds()) if s.heartbeat_at else None
    read = "" if s.updated_at is not None else " before it read a block"
    return f"the watcher stopped{read} (process {s.holder}, last seen {seen} s ago)"


def _progress(s: ChainStatus, now: datetime) -> dict[str, Any]:
    if s.updated_at is None:
        return {}
    return {
        "next_block": s.next_block,
        "head": s.head,
        "seconds_since_update": int((now - s.updated_at).total_seconds()),
    }


def lag_check(s: ChainStatus, part: dict[str, Any], ops: OpsSettings) -> None:
    """Mark an UP watcher DEGRADED when it lags past ops.lag_* thresholds."""
    if s.lag_blocks is None or s.lag_seconds is None or part["status"] != UP:
        return
    part.update(lag_blocks=s.lag_blocks, lag_seconds=int(s.lag_seconds))
    block_limit = ops.lag_blocks_degraded.get(s.chain)
    if s.lag_seconds > ops.lag_seconds_degraded or (block_limit is not None and s.lag_blocks > block_limit):
        part["status"] = DEGRADED
        part["message"] = (
            f"{s.lag_blocks} final blocks (~{int(s.lag_seconds)} s) behind; the watcher is catching up "
            "or its node is slow (thresholds: ops.lag_seconds_degraded / ops.lag_blocks_degraded)"
        )


def exchange_part(s: ExchangeStatus, ops: OpsSettings, poll_seconds: float, now: datetime) -> dict[str, Any]:
    """One exchange's watcher, judged like a chain's (engine.monitoring.exchanges)."""
    part: dict[str, Any] = {
        "status": UP,
        "watcher": s.watcher,
        "holder": s.holder,
        "accounts": s.accounts,
        "unmatched": s.unmatched,
        "scanned_until": _when(s.scanned_until),
    }
    trouble = _exchange_trouble(s, part, ops, poll_seconds, now)
    if trouble is not None:
        part.update(status=trouble[0], message=trouble[1])
    return part


def _exchange_trouble(
    s: ExchangeStatus, part: dict[str, Any], ops: OpsSettings, poll_seconds: float, now: datetime
) -> tuple[str, str] | None:
    name = s.exchange
    if s.watcher == FAILING:
        seconds = int(s.failing_seconds(now))
        part.update(failing_since=_when(s.failing_since), failing_seconds=seconds, last_error=s.last_error)
        return DOWN, (
            f"failing since {_when(s.failing_since)} ({seconds} s): {s.last_error}; check the account's key "
            f"(`usdtpay exchange list`, `usdtpay exchange check ID`) and the network to {name}"
        )
    if s.accounts == 0:
        return DEGRADED, f"no enabled {name} receiving account: `usdtpay exchange add {name}`"
    if s.watcher == NEVER_STARTED:
        run = "`usdtpay run`" if s.enabled else f"`usdtpay run` with {name} in USDTPAY_EXCHANGES__ENABLED"
        return DOWN, f"the watcher has not run yet; start `usdtpay watch {name}` or {run}"
    if s.watcher == STOPPED:
        seen = int((now - s.heartbeat_at).total_seconds()) if s.heartbeat_at else None
        return DOWN, f"the watcher stopped (process {s.holder}, last seen {seen} s ago)"
    if s.lag_seconds is None or s.seconds_since_update is None:
        return DOWN, f"{s.unread} of {s.accounts} accounts not read yet; see `usdtpay exchange list`"
    part.update(lag_seconds=int(s.lag_seconds), seconds_since_update=int(s.seconds_since_update))
    if s.seconds_since_update > max(STALE_FLOOR_SECONDS, STALE_POLLS * poll_seconds):
        return DOWN, f"no successful poll for {int(s.seconds_since_update)} s; check the watcher process"
    if s.lag_seconds > ops.lag_seconds_degraded:
        return DEGRADED, (
            f"read up to {_when(s.scanned_until)} ({int(s.lag_seconds)} s behind); the watcher is "
            "catching up (threshold: ops.lag_seconds_degraded)"
        )
    return None
