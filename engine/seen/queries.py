"""Reads and writes of seen_transfers, and the final transfers a payer is told about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChainCursor, SeenTransfer, Transfer
from engine.settlement.rules import Reason, TransferStatus

NEAR_MISSES = (Reason.UNDERPAID.value, Reason.OVERPAID.value)


async def seen_of_chain(session: AsyncSession, chain: str) -> list[SeenTransfer]:
    return list(await session.scalars(select(SeenTransfer).where(SeenTransfer.chain == chain)))


async def delete_ids(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(
            delete(SeenTransfer).where(SeenTransfer.id.in_(ids)).execution_options(synchronize_session=False)
        )


async def prune_below(session: AsyncSession, chain: str, next_block: int) -> None:
    """Forget rows of blocks the final scan has read: settlement has the say there."""
    await session.execute(
        delete(SeenTransfer)
        .where(SeenTransfer.chain == chain, SeenTransfer.block_number < next_block)
        .execution_options(synchronize_session=False)
    )


async def seen_for_order(session: AsyncSession, order_id: int) -> list[SeenTransfer]:
    stmt = select(SeenTransfer).where(SeenTransfer.order_id == order_id).order_by(SeenTransfer.block_number)
    return list(await session.scalars(stmt))


async def cursor_heads(session: AsyncSession, chain: str) -> tuple[int | None, int | None]:
    """(head, final head) the chain's watcher last recorded."""
    row = (
        await session.execute(
            select(ChainCursor.head, ChainCursor.final_head).where(ChainCursor.chain == chain)
        )
    ).first()
    return (None, None) if row is None else (row[0], row[1])


async def latest_near_miss(session: AsyncSession, order_id: int) -> Transfer | None:
    """The newest final transfer that came close to paying the order (under / over)."""
    stmt = (
        select(Transfer)
        .where(
            Transfer.order_id == order_id,
            Transfer.status == TransferStatus.UNMATCHED.value,
            Transfer.reason.in_(NEAR_MISSES),
        )
        .order_by(Transfer.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()
