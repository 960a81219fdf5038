"""The console's reads: accounts, sessions, the audit log, decisions,
unmatched transfers, merchants' and wallets' figures, paid volume."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from engine.addresses import normalize, normalize_tx_hash
from engine.errors import BadInput
from engine.models import (
    AdminAccount,
    AdminLoginAttempt,
    AdminSession,
    AuditEntry,
    ChannelPayment,
    Merchant,
    Notification,
    Order,
    Reservation,
    Transfer,
    TransferDecision,
    Wallet,
)
from engine.sealing import PREFIX


async def any_account(session: AsyncSession) -> bool:
    """Is there at least one enabled account (the console is off otherwise)?"""
    found = await session.scalar(select(AdminAccount.id).where(AdminAccount.enabled.is_(True)).limit(1))
    return found is not None


async def account_by_username(session: AsyncSession, username: str) -> AdminAccount | None:
    return await session.scalar(select(AdminAccount).where(AdminAccount.username == username))


async def login_attempts(session: AsyncSession, keys: Iterable[str], since: datetime) -> dict[str, int]:
    """Failed (or in-flight) sign-ins per key after `since`."""
    rows = await session.execute(
        select(AdminLoginAttempt.key, func.count())
        .where(AdminLoginAttempt.key.in_(list(keys)), AdminLoginAttempt.at > since)
        .group_by(AdminLoginAttempt.key)
    )
    return {key: int(count) for key, count in rows.tuples()}


async def plain_totp_accounts(session: AsyncSession) -> list[AdminAccount]:
    """Accounts whose TOTP secret is still stored plain (from before admin.totp_key)."""
    raw = type_coerce(AdminAccount.totp_secret, String)
    return list(await session.scalars(select(AdminAccount).where(raw.not_like(f"{PREFIX}%"))))


async def list_accounts(session: AsyncSession) -> list[AdminAccount]:
    return list(await session.scalars(select(AdminAccount).order_by(AdminAccount.id)))


async def session_with_account(
    session: AsyncSession, hashed: str
) -> tuple[AdminSession, AdminAccount] | None:
    stmt = (
        select(AdminSession, AdminAccount)
        .join(AdminAccount, AdminAccount.id == AdminSession.account_id)
        .where(AdminSession.token_hash == hashed)
    )
    row = (await session.execute(stmt)).tuples().one_or_none()
    return (row[0], row[1]) if row else None


async def audit_entries(
    session: AsyncSession, *, limit: int = 100, target: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target:
        stmt = stmt.where(AuditEntry.target == target)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(await session.scalars(stmt))


async def decisions_by_transfer(session: AsyncSession, ids: Iterable[int]) -> dict[int, TransferDecision]:
    wanted = sorted(set(ids))
    found: dict[int, TransferDecision] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(TransferDecision).where(TransferDecision.transfer_id.in_(wanted[i : i + 500]))
        found.update({d.transfer_id: d for d in await session.scalars(stmt)})
    return found


@dataclass(frozen=True)
class UnmatchedRow:
    transfer: Transfer
    likely: Order | None
    decision: TransferDecision | None


async def unmatched_transfers(
    session: AsyncSession, *, resolved: bool = False, limit: int = 200
) -> list[UnmatchedRow]:
    """Unmatched transfers (newest first) with the order settlement thought
    they were meant for; `resolved` lists those an operator decided instead
    (credited ones are matched by now, so they are found by their decision)."""
    if resolved:
        stmt = (
            select(Transfer, TransferDecision)
            .join(TransferDecision, TransferDecision.transfer_id == Transfer.id)
            .order_by(TransferDecision.id.desc())
        )
    else:
        stmt = (
            select(Transfer, TransferDecision)
            .outerjoin(TransferDecision, TransferDecision.transfer_id == Transfer.id)
            .where(Transfer.status == "unmatched", TransferDecision.id.is_(None))
            .order_by(Transfer.id.desc())
        )
    rows = list((await session.execute(stmt.limit(limit))).tuples())
    ids = {t.order_id for t, _ in rows if t.order_id is not None}
    ids |= {d.order_id for _, d in rows if d is not None and d.order_id is not None}
    orders = {o.id: o for o in await session.scalars(select(Order).where(Order.id.in_(sorted(ids))))}
    result = []
    for transfer, decision in rows:
        order_id = decision.order_id if decision and decision.order_id else transfer.order_id
        result.append(UnmatchedRow(transfer, orders.get(order_id) if order_id else None, decision))
    return result


@dataclass(frozen=True)
class Volume:
    via: str  # the chain for USDT orders, else the fiat channel
    paid: int
    usdt_units: int
    fiat_fen: int


async def paid_volume(session: AsyncSession, since: datetime) -> list[Volume]:
    """Orders paid since `since`, by chain or channel: count, USDT received
    (paid_units) and CNY of fiat payments."""
    via = func.coalesce(Order.channel, Order.chain, "unpicked")
    usdt = func.sum(func.coalesce(Order.paid_units, 0))
    fiat = func.sum(case((Order.channel.is_not(None), func.coalesce(Order.fiat_fen, 0)), else_=0))
    stmt = (
        select(via, func.count(), usdt, fiat)
        .where(Order.status == "paid", Order.paid_at >= since)
        .group_by(via)
        .order_by(via)
    )
    return [Volume(v, int(n), int(u or 0), int(f or 0)) for v, n, u, f in (await session.execute(stmt))]


@dataclass(frozen=True)
class MerchantFigures:
    merchant: Merchant
    orders: int
    paid: int
    usdt_units: int
    fiat_fen: int
    failed_notifications: int


async def merchant_figures(session: AsyncSession, since: datetime) -> list[MerchantFigures]:
    """Per merchant, for orders created since `since`."""
    paid = Order.status == "paid"
    per_order = (
        select(
            Order.merchant_id,
            func.count(),
            func.sum(case((paid, 1), else_=0)),
            func.sum(case((paid, func.coalesce(Order.paid_units, 0)), else_=0)),
            func.sum(case((paid & Order.channel.is_not(None), func.coalesce(Order.fiat_fen, 0)), else_=0)),
        )
        .where(Order.created_at >= since)
        .group_by(Order.merchant_id)
    )
    counts = {
        m: (int(n), int(p or 0), int(u or 0), int(f or 0))
        for m, n, p, u, f in await session.execute(per_order)
    }
    failed_stmt = (
        select(Notification.merchant_id, func.count())
        .where(Notification.status == "failed")
        .group_by(Notification.merchant_id)
    )
    failed = {m: int(n) for m, n in (await session.execute(failed_stmt)).tuples()}
    merchants = await session.scalars(select(Merchant).order_by(Merchant.id))
    return [
        MerchantFigures(m, *counts.get(m.id, (0, 0, 0, 0)), failed_notifications=failed.get(m.id, 0))
        for m in merchants
    ]


@dataclass(frozen=True)
class WalletLoad:
    wallet: Wallet
    live: list[Reservation]  # held now, newest first (at most `shown`)
    live_count: int


async def wallets_with_reservations(
    session: AsyncSession, now: datetime, shown: int = 20
) -> list[WalletLoad]:
    wallets = list(await session.scalars(select(Wallet).order_by(Wallet.chain, Wallet.id)))
    live = Reservation.held_until > now
    count_stmt = (
        select(Reservation.chain, Reservation.address, func.count())
        .where(live)
        .group_by(Reservation.chain, Reservation.address)
    )
    counts = {(c, a): int(n) for c, a, n in (await session.execute(count_stmt)).tuples()}
    result = []
    for wallet in wallets:
        held = await session.scalars(
            select(Reservation)
            .where(live, Reservation.chain == wallet.chain, Reservation.address == wallet.address)
            .order_by(Reservation.held_until.desc())
            .limit(shown)
        )
        result.append(WalletLoad(wallet, list(held), counts.get((wallet.chain, wallet.address), 0)))
    return result


def _as_hash(text: str) -> str | None:
    try:
        return normalize_tx_hash(text)
    except BadInput:
        return None


def _as_units(text: str, decimals: int) -> int | None:
    from engine.money import parse_amount

    try:
        return parse_amount(text, decimals)
    except BadInput:
        return None


def _as_addresses(text: str) -> set[str]:
    found = set()
    for chain in ("tron", "eth"):
        try:
            found.add(normalize(chain, text))
        except (BadInput, ValueError):
            continue
    return found


def order_conditions(text: str) -> list[ColumnElement[bool]]:
    """Every way `text` may name an order: platform id, merchant order no,
    tx hash, channel trade no, receiving or paying address, amount."""
    conditions: list[ColumnElement[bool]] = [Order.merchant_order_no == text, Order.channel_trade_no == text]
    if text.isdigit() and len(text) < 19:
        conditions.append(Order.id == int(text))
    tx_hash = _as_hash(text)
    if tx_hash:
        conditions.append(Order.tx_hash.in_([tx_hash, "0x" + tx_hash]))
    for address in _as_addresses(text):
        conditions += [Order.address == address, Order.payer_address == address]
    usdt = _as_units(text, 6)
    if usdt is not None:
        conditions += [Order.usdt_units == usdt, Order.paid_units == usdt]
    fen = _as_units(text, 2)
    if fen is not None:
        conditions.append(Order.fiat_fen == fen)
    return conditions


async def search_orders(session: AsyncSession, text: str, limit: int = 50) -> list[Order]:
    """Orders matching `text` in any id, newest first; a hash or trade no
    also finds the order through its transfers and channel payments."""
    text = text.strip()
    if not text or len(text) > 128:
        return []
    ids: set[int] = set()
    tx_hash = _as_hash(text)
    if tx_hash:
        by_transfer = select(Transfer.order_id).where(
            Transfer.tx_hash == tx_hash, Transfer.order_id.is_not(None)
        )
        ids |= {i for i in await session.scalars(by_transfer) if i is not None}
    by_payment = select(ChannelPayment.order_id).where(
        or_(ChannelPayment.channel_trade_no == text, ChannelPayment.out_trade_no == text)
    )
    ids |= set(await session.scalars(by_payment))
    conditions = order_conditions(text)
    if ids:
        conditions.append(Order.id.in_(sorted(ids)))
    stmt = select(Order).where(or_(*conditions)).order_by(Order.created_at.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def recent_orders(session: AsyncSession, limit: int = 50) -> list[Order]:
    return list(await session.scalars(select(Order).order_by(Order.created_at.desc()).limit(limit)))


@dataclass(frozen=True)
class OrderRecords:
    order: Order
    merchant: Merchant | None
    reservations: list[Reservation]
    transfers: list[Transfer]  # matched to it, or naming it as the likely order
    payments: list[ChannelPayment]
    decisions: dict[int, TransferDecision]
    audit: list[AuditEntry]


async def order_records(session: AsyncSession, order: Order) -> OrderRecords:
    reservations = await session.scalars(select(Reservation).where(Reservation.order_id == order.id))
    transfer_stmt = (
        select(Transfer)
        .where(or_(Transfer.order_id == order.id, Transfer.id == order.transfer_id))
        .order_by(Transfer.block_time, Transfer.id)
    )
    transfers = list(await session.scalars(transfer_stmt))
    payments = await session.scalars(
        select(ChannelPayment).where(ChannelPayment.order_id == order.id).order_by(ChannelPayment.created_at)
    )
    audit = await audit_entries(session, limit=100, target=f"order:{order.id}")
    return OrderRecords(
        order=order,
        merchant=await session.get(Merchant, order.merchant_id),
        reservations=list(reservations),
        transfers=transfers,
        payments=list(payments),
        decisions=await decisions_by_transfer(session, [t.id for t in transfers]),
        audit=audit,
    )


async def pending_payments(session: AsyncSession, order_id: int) -> list[ChannelPayment]:
    stmt = select(ChannelPayment).where(
        ChannelPayment.order_id == order_id, ChannelPayment.status == "pending"
    )
    return list(await session.scalars(stmt))
