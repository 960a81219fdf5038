"""`usdtpay status`: what an operator checks first.

The report is a list of sections, each an async function returning lines;
other parts append theirs to `SECTIONS` (notification backlog, rates, ...).
The chain section reads the cursors the watchers keep in the database, so
it works from any process; `live` also asks each enabled chain's node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engine.chain import CHAINS, Heads, chain_enabled
from engine.config import Settings
from engine.monitoring import FAILING, NEVER_STARTED, STOPPED, ChainStatus, chain_statuses
from engine.rows import Rows, rows_of

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Sections read through Rows (engine.rows): the command's own connection, or
# a session's (render_status adapts one), with the same statements.
Section = Callable[[Rows, Settings, datetime, dict[str, Heads]], Awaitable[list[str]]]


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


async def chains_section(rows: Rows, settings: Settings, now: datetime, live: dict[str, Heads]) -> list[str]:
    columns = ("head", "final", "cursor")
    header = (
        f"{'chain':<6} {'enabled':<8} {'watcher':<14}"
        + " ".join(f"{c:>12}" for c in columns)
        + f" {'lag':>8} {'lag s':>8}  updated"
    )
    lines = ["Chains", header]
    notes = []
    for s in await chain_statuses(rows, settings, live, now=now):
        age = f"{int((now - s.updated_at).total_seconds())} s ago" if s.updated_at else "never"
        lag_s = None if s.lag_seconds is None else f"{s.lag_seconds:.0f}"
        cells = (s.head, s.final_head, s.cursor)
        lines.append(
            f"{s.chain:<6} {'yes' if s.enabled else 'no':<8} {s.watcher:<14}"
            + " ".join(f"{_cell(c):>12}" for c in cells)
            + f" {_cell(s.lag_blocks):>8} {_cell(lag_s):>8}  {age}"
        )
        notes += _watcher_notes(s, now)
    return lines + notes


def _watcher_notes(s: ChainStatus, now: datetime) -> list[str]:
    """What to look at when a chain's watcher is not simply running."""
    if s.watcher == FAILING and s.failing_since is not None:
        return [
            f"  ! {s.chain} watcher ({s.holder}) failing since {s.failing_since:%Y-%m-%d %H:%M:%S}Z "
            f"({int(s.failing_seconds(now))} s): {s.last_error}",
            f"    check {s.chain}'s node URL and API keys (`usdtpay config check`) and the network",
        ]
    if s.watcher == STOPPED and s.heartbeat_at is not None:
        seen = int((now - s.heartbeat_at).total_seconds())
        return [f"  ! {s.chain} watcher stopped: {s.holder} last seen {seen} s ago"]
    if s.enabled and s.watcher == NEVER_STARTED:
        return [
            f"  ! {s.chain} is enabled but no watcher has run: `usdtpay run` or `usdtpay watch {s.chain}`"
        ]
    return []


def _operator_sections() -> list[Section]:
    from api.cli.status_sections import OPERATOR_SECTIONS  # notifications, rate, orders

    return list(OPERATOR_SECTIONS)


SECTIONS: list[Section] = [chains_section, *_operator_sections()]


async def live_heads(settings: Settings, timeout_s: float = 10.0) -> dict[str, Heads]:
    """Ask each enabled chain's node for its heads; a chain that fails is left out."""
    from watchers.readers import build_reader  # web3 / tronpy: only for --live

    async def one(chain: str) -> tuple[str, Heads | None]:
        reader = build_reader(settings, chain)
        try:
            return chain, await asyncio.wait_for(reader.heads(), timeout_s)
        except Exception:
            return chain, None
        finally:
            await reader.aclose()

    answers = await asyncio.gather(*(one(c) for c in CHAINS if chain_enabled(settings, c)))
    return {chain: heads for chain, heads in answers if heads is not None}


async def render_status(
    source: AsyncSession | Rows, settings: Settings, now: datetime, live: dict[str, Heads] | None = None
) -> str:
    rows = rows_of(source)
    blocks = [await section(rows, settings, now, live or {}) for section in SECTIONS]
    return "\n\n".join("\n".join(lines) for lines in blocks if lines)
