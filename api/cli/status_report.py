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

from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import CHAINS, Heads, chain_enabled
from engine.config import Settings
from engine.monitoring import chain_statuses
from watchers.readers import build_reader

Section = Callable[[AsyncSession, Settings, datetime, dict[str, Heads]], Awaitable[list[str]]]


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


async def chains_section(
    session: AsyncSession, settings: Settings, now: datetime, live: dict[str, Heads]
) -> list[str]:
    columns = ("head", "final", "cursor")
    header = (
        f"{'chain':<6} {'enabled':<8} "
        + " ".join(f"{c:>12}" for c in columns)
        + f" {'lag':>8} {'lag s':>8}  updated"
    )
    lines = ["Chains", header]
    for s in await chain_statuses(session, settings, live):
        age = f"{int((now - s.updated_at).total_seconds())} s ago" if s.updated_at else "never started"
        lag_s = None if s.lag_seconds is None else f"{s.lag_seconds:.0f}"
        lines.append(
            f"{s.chain:<6} {'yes' if s.enabled else 'no':<8} {_cell(s.head):>12} {_cell(s.final_head):>12} "
            f"{_cell(s.cursor):>12} {_cell(s.lag_blocks):>8} {_cell(lag_s):>8}  {age}"
        )
    return lines


def _operator_sections() -> list[Section]:
    from api.cli.status_sections import OPERATOR_SECTIONS  # notifications, rate, orders

    return list(OPERATOR_SECTIONS)


SECTIONS: list[Section] = [chains_section, *_operator_sections()]


async def live_heads(settings: Settings, timeout_s: float = 10.0) -> dict[str, Heads]:
    """Ask each enabled chain's node for its heads; a chain that fails is left out."""

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
    session: AsyncSession, settings: Settings, now: datetime, live: dict[str, Heads] | None = None
) -> str:
    blocks = [await section(session, settings, now, live or {}) for section in SECTIONS]
    return "\n\n".join("\n".join(lines) for lines in blocks if lines)
