"""`usdtpay status`'s exchange section (seed 004 type 2): each exchange in use,
its watcher's state, how far its accounts are read, the lag and the
unmatched records; the problem lines are /api/health's own messages
(engine.monitoring.health.exchange_part), so both say the same. Nothing
when no exchange is in use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.config import Settings
from engine.monitoring import exchange_statuses
from engine.rows import Rows


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


async def exchanges_section(rows: Rows, settings: Settings, now: datetime, _: dict[str, Any]) -> list[str]:
    statuses = await exchange_statuses(rows, settings, now)
    if not statuses:
        return []
    # Imported only with an exchange in use: status without one loads none of it.
    from engine.monitoring.parts import UP, exchange_part

    lines = [
        "Exchanges",
        f"{'exchange':<9} {'accounts':>8} {'watcher':<14} {'read up to':<20} {'lag s':>8} {'unmatched':>10}"
        "  updated",
    ]
    notes = []
    for s in statuses:
        until = None if s.scanned_until is None else f"{s.scanned_until:%Y-%m-%d %H:%M:%S}Z"
        lag = None if s.lag_seconds is None else f"{s.lag_seconds:.0f}"
        since = "never" if s.seconds_since_update is None else f"{int(s.seconds_since_update)} s ago"
        lines.append(
            f"{s.exchange:<9} {s.accounts:>8} {s.watcher:<14} {_cell(until):<20} {_cell(lag):>8} "
            f"{s.unmatched:>10}  {since}"
        )
        part = exchange_part(s, settings.ops, settings.exchanges.poll_seconds, now)
        if part["status"] != UP:
            who = f" watcher ({s.holder})" if s.holder else ""
            notes.append(f"  ! {s.exchange}{who}: {part['message']}")
        if s.unmatched:
            notes.append(
                f"  {s.exchange}: {s.unmatched} record(s) settled no order; their reasons are on the "
                "console's Unmatched transfers page (/admin/transfers)"
            )
    return lines + notes
