"""Chain cursors: where each watcher resumes (invariant 4).

`advance_cursor` is called in the same transaction as `ingest`, so the
transfers of a range and the cursor past it commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import Heads
from engine.errors import Conflict
from engine.models import ChainCursor


class CursorMoved(Conflict):
    """Another process advanced this chain's cursor: two watchers run one chain."""

    code = "cursor_moved"


async def get_cursor(session: AsyncSession, chain: str) -> ChainCursor | None:
    return await session.get(ChainCursor, chain, populate_existing=True)


async def init_cursor(session: AsyncSession, chain: str, next_block: int, now: datetime) -> ChainCursor:
    """Create the cursor on a watcher's first start; keep an existing one."""
    existing = await get_cursor(session, chain)
    if existing is not None:
        return existing
    cursor = ChainCursor(chain=chain, next_block=next_block, blocks_processed=0, updated_at=now)
    session.add(cursor)
    await session.flush()
    return cursor


async def set_cursor(session: AsyncSession, chain: str, next_block: int, now: datetime) -> ChainCursor:
    """Operator override (`usdtpay watch --from-block`): move the cursor anywhere.

    Moving it back replays blocks, which is safe; moving it forward skips
    blocks, whose payments then need a supplement by tx hash.
    """
    if next_block < 0:
        raise ValueError("a block number is never negative")
    cursor = await get_cursor(session, chain)
    if cursor is None:
        return await init_cursor(session, chain, next_block, now)
    cursor.next_block = next_block
    cursor.updated_at = now
    await session.flush()
    return cursor


async def advance_cursor(
    session: AsyncSession,
    chain: str,
    expected: int,
    next_block: int,
    heads: Heads,
    now: datetime,
) -> None:
    """Move the cursor from `expected` to `next_block`; flush only.

    Conditional on the cursor still being at `expected`, so two processes
    watching one chain cannot interleave ranges unnoticed.
    """
    if next_block < expected:
        raise ValueError(f"cursor of {chain} would move back from {expected} to {next_block}")
    result = await session.execute(
        update(ChainCursor)
        .where(ChainCursor.chain == chain, ChainCursor.next_block == expected)
        .values(
            next_block=next_block,
            head=heads.head,
            final_head=heads.final,
            head_time=heads.head_time,
            blocks_processed=ChainCursor.blocks_processed + (next_block - expected),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CursorMoved(
            f"the {chain} cursor is no longer at block {expected}: "
            f"is another `usdtpay watch {chain}` running? Stop all but one."
        )


async def record_heads(session: AsyncSession, chain: str, heads: Heads, now: datetime) -> None:
    """Remember the node's heads while caught up, for `usdtpay status`."""
    await session.execute(
        update(ChainCursor)
        .where(ChainCursor.chain == chain)
        .values(head=heads.head, final_head=heads.final, head_time=heads.head_time, updated_at=now)
        .execution_options(synchronize_session=False)
    )
