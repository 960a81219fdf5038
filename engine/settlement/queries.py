"""Reading what settlement decides on: the transfers already recorded, the
orders a batch of transfers may pay (exact amount, or live at the address
for the near-amount verdicts), an order under its row lock, the cursors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import ChainTransfer
from engine.models import ChainCursor, Order, Transfer
from engine.settlement.rules import SETTLEABLE, MatchRules

CHUNK = 400  # bound parameters per IN (...) query, well under every backend's limit

Key = tuple[str, int]  # (tx_hash, log_index)


async def known_keys(session: AsyncSession, chain: str, hashes: Iterable[str]) -> set[Key]:
    unique = sorted(set(hashes))
    found: set[Key] = set()
    for i in range(0, len(unique), CHUNK):
        rows = await session.execute(
            select(Transfer.tx_hash, Transfer.log_index).where(
                Transfer.chain == chain, Transfer.tx_hash.in_(unique[i : i + CHUNK])
            )
        )
        found.update(rows.tuples())
    return found


async def exact_candidates(
    session: AsyncSession, chain: str, transfers: Sequence[ChainTransfer]
) -> dict[tuple[str, int], list[Order]]:
    """Orders on each transfer's exact (address, amount), whatever their age."""
    pairs = sorted({(t.to_address, t.amount_units) for t in transfers})
    found: dict[tuple[str, int], list[Order]] = {}
    for i in range(0, len(pairs), CHUNK // 2):
        stmt = select(Order).where(
            Order.chain == chain, tuple_(Order.address, Order.usdt_units).in_(pairs[i : i + CHUNK // 2])
        )
        for order in await session.scalars(stmt):
            assert order.address is not None and order.usdt_units is not None
            found.setdefault((order.address, order.usdt_units), []).append(order)
    return found


async def live_orders_at(
    session: AsyncSession, chain: str, transfers: Sequence[ChainTransfer], rules: MatchRules
) -> dict[str, list[Order]]:
    """Settleable orders at the transfers' addresses whose windows may hold
    one of the transfers, by address: the under / over payment suspects."""
    if not transfers:
        return {}
    addresses = sorted({t.to_address for t in transfers})
    earliest = min(t.block_time for t in transfers)
    latest = max(t.block_time for t in transfers)
    found: dict[str, list[Order]] = {}
    for i in range(0, len(addresses), CHUNK):
        stmt = select(Order).where(
            Order.chain == chain,
            Order.address.in_(addresses[i : i + CHUNK]),
            Order.status.in_(SETTLEABLE),
            Order.created_at < latest + timedelta(seconds=1),  # see matching.window_of
            Order.expires_at >= earliest - rules.late_window,
        )
        for order in await session.scalars(stmt):
            assert order.address is not None
            found.setdefault(order.address, []).append(order)
    return found


async def lock_order(session: AsyncSession, order_id: int) -> Order | None:
    """Re-read the order under a row lock (PostgreSQL; SQLite writers are
    serialised by BEGIN IMMEDIATE) so two settlers cannot both pay it."""
    stmt = (
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def list_cursors(session: AsyncSession) -> list[ChainCursor]:
    return list(await session.scalars(select(ChainCursor).order_by(ChainCursor.chain)))


async def order_paid_by(session: AsyncSession, tx_hash: str, *, besides: int) -> int | None:
    """An order other than `besides` that this transaction hash paid."""
    stmt = select(Order.id).where(Order.tx_hash == tx_hash, Order.id != besides).limit(1)
    return await session.scalar(stmt)


async def recorded_transfer(
    session: AsyncSession, chain: str, tx_hash: str, log_index: int
) -> Transfer | None:
    return await session.scalar(
        select(Transfer).where(
            Transfer.chain == chain, Transfer.tx_hash == tx_hash, Transfer.log_index == log_index
        )
    )
