"""Reads and writes of seen_transfers, and the final transfers a payer is told about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChainCursor, SeenTransfer, Transfer
from engine.prepared_reads import PreparedSelect
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


# The payer's view (engine.seen.service.payer_view) runs these for every
# cashier page poll: built once, run on the read connection (engine.work).
SEEN = cast(Table, SeenTransfer.__table__)
TRANSFERS = cast(Table, Transfer.__table__)
CURSORS = cast(Table, ChainCursor.__table__)
_SEEN_FOR_ORDER = PreparedSelect(
    select(SEEN).where(SEEN.c.order_id == bindparam("order_id")).order_by(SEEN.c.block_number)
)
_HEADS = PreparedSelect(
    select(CURSORS.c.head, CURSORS.c.final_head).where(CURSORS.c.chain == bindparam("chain"))
)
_LATEST_NEAR_MISS = PreparedSelect(
    select(TRANSFERS)
    .where(
        TRANSFERS.c.order_id == bindparam("order_id"),
        TRANSFERS.c.status == TransferStatus.UNMATCHED.value,
        TRANSFERS.c.reason.in_([literal(reason) for reason in NEAR_MISSES]),
    )
    .order_by(TRANSFERS.c.id.desc())
    .limit(1)
)


def seen_for_order(conn: Connection, order_id: int) -> list[dict[str, Any]]:
    """The order's seen_transfers rows, earliest block first."""
    return _SEEN_FOR_ORDER.all(conn, {"order_id": order_id})


def cursor_heads(conn: Connection, chain: str) -> tuple[int | None, int | None]:
    """(head, final head) the chain's watcher last recorded."""
    row = _HEADS.first(conn, {"chain": chain})
    return (None, None) if row is None else (row["head"], row["final_head"])


def latest_near_miss(conn: Connection, order_id: int) -> dict[str, Any] | None:
    """The newest final transfer (its transfers row) that came close to
    paying the order (under / over)."""
    return _LATEST_NEAR_MISS.first(conn, {"order_id": order_id})
