"""Every SQL query of the exchanges domain."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ExchangeAccount, ExchangeCursor, Order, Transfer, Wallet


async def account_by_uid(session: AsyncSession, exchange: str, uid: str) -> ExchangeAccount | None:
    return await session.scalar(
        select(ExchangeAccount).where(ExchangeAccount.exchange == exchange, ExchangeAccount.uid == uid)
    )


async def account_by_id(session: AsyncSession, account_id: int) -> ExchangeAccount | None:
    return await session.get(ExchangeAccount, account_id, populate_existing=True)


async def list_accounts(
    session: AsyncSession, exchange: str | None = None, *, enabled_only: bool = False
) -> list[ExchangeAccount]:
    stmt = select(ExchangeAccount).order_by(ExchangeAccount.exchange, ExchangeAccount.id)
    if exchange is not None:
        stmt = stmt.where(ExchangeAccount.exchange == exchange)
    if enabled_only:
        stmt = stmt.where(ExchangeAccount.enabled.is_(True))
    return list(await session.scalars(stmt))


async def wallet_of(session: AsyncSession, exchange: str, uid: str) -> Wallet | None:
    return await session.scalar(select(Wallet).where(Wallet.chain == exchange, Wallet.address == uid))


async def set_wallet_enabled(session: AsyncSession, exchange: str, uid: str, enabled: bool) -> None:
    await session.execute(
        update(Wallet).where(Wallet.chain == exchange, Wallet.address == uid).values(enabled=enabled)
    )


async def cursor_of(session: AsyncSession, account_id: int) -> ExchangeCursor | None:
    return await session.get(ExchangeCursor, account_id, populate_existing=True)


async def transfers_by_record(
    session: AsyncSession, exchange: str, record_ids: list[str]
) -> dict[str, Transfer]:
    """Recorded rows of these exchange record ids (chain = exchange, log index 0)."""
    found: dict[str, Transfer] = {}
    for i in range(0, len(record_ids), 400):
        rows = await session.scalars(
            select(Transfer).where(Transfer.chain == exchange, Transfer.tx_hash.in_(record_ids[i : i + 400]))
        )
        found.update((row.tx_hash, row) for row in rows)
    return found


async def order_paid_by(session: AsyncSession, exchange: str, record_id: str) -> int | None:
    return await session.scalar(
        select(Order.id).where(Order.chain == exchange, Order.tx_hash == record_id).limit(1)
    )


async def exchange_orders_between(
    session: AsyncSession, exchange: str, uid: str, statuses: tuple[str, ...]
) -> list[Order]:
    stmt = select(Order).where(Order.chain == exchange, Order.address == uid, Order.status.in_(statuses))
    return list(await session.scalars(stmt.order_by(Order.created_at)))
