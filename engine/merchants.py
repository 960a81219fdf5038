"""Merchants and receiving wallets."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.addresses import normalize
from engine.db import SessionFactory
from engine.errors import BadInput, Conflict, Forbidden, NotFound
from engine.merchant_keys import hash_api_key, new_api_key
from engine.models import Merchant, Order, Reservation, Wallet
from engine.prepared_reads import PreparedSelect


async def get_merchant(session: AsyncSession, pid: str, *, include_disabled: bool = False) -> Merchant | None:
    """The merchant by pid; a merchant disabled in the operator console is
    unknown to the faces (their callers pass no flag)."""
    stmt = select(Merchant).where(Merchant.pid == pid)
    if not include_disabled:
        stmt = stmt.where(Merchant.enabled.is_(True))
    return (await session.scalars(stmt)).one_or_none()


_NAME = PreparedSelect(select(Merchant.name).where(Merchant.id == bindparam("merchant_id")))


def merchant_name(conn: Connection, merchant_id: int) -> str | None:
    """Who is being paid, as the cashier page shows it (disabled or not);
    None for no such merchant. Reads only."""
    row = _NAME.first(conn, {"merchant_id": merchant_id})
    return None if row is None else row["name"]


async def require_merchant(session: AsyncSession, pid: object) -> Merchant:
    """403 for an unknown pid, as seed 004's error table says."""
    if not isinstance(pid, str) or not pid:
        raise Forbidden("pid is missing or unknown")
    merchant = await get_merchant(session, pid)
    if merchant is None:
        raise Forbidden(f"unknown merchant pid {pid[:32]!r}")
    return merchant


async def add_merchant(
    session: AsyncSession, pid: str, key: str, name: str, now: datetime, *, api_key: str | None = None
) -> Merchant:
    """A new merchant with its signing key and, optionally, an API key
    (only its hash is kept: engine.merchant_keys)."""
    if not pid or len(pid) > 32:
        raise BadInput("pid must be 1 to 32 characters")
    if len(key) < 16:
        raise BadInput("key must be at least 16 characters")
    if await get_merchant(session, pid, include_disabled=True) is not None:
        raise Conflict(f"merchant {pid} exists")
    if key == api_key:
        raise BadInput("the API key must not be the signing key")
    merchant = Merchant(
        pid=pid,
        key=key,
        name=name,
        enabled=True,
        created_at=now,
        api_key_hash=hash_api_key(api_key) if api_key else None,
    )
    session.add(merchant)
    await session.flush()
    return merchant


async def issue_api_key(session: AsyncSession, pid: str) -> str:
    """A new random API key for the merchant (the old one stops working);
    returned once, only its hash is kept."""
    merchant = await get_merchant(session, pid, include_disabled=True)
    if merchant is None:
        raise NotFound(f"no merchant {pid[:32]!r}")
    api_key = new_api_key()
    merchant.api_key_hash = hash_api_key(api_key)
    await session.flush()
    return api_key


async def list_merchants(session: AsyncSession) -> list[Merchant]:
    return list(await session.scalars(select(Merchant).order_by(Merchant.id)))


async def add_wallet(
    session: AsyncSession, chain: str, address: str, now: datetime, label: str = ""
) -> Wallet:
    canonical = normalize(chain, address)
    existing = await session.scalar(select(Wallet).where(Wallet.chain == chain, Wallet.address == canonical))
    if existing is not None:
        raise Conflict(f"wallet {canonical} on {chain} exists")
    wallet = Wallet(chain=chain, address=canonical, enabled=True, label=label, created_at=now)
    session.add(wallet)
    await session.flush()
    return wallet


async def list_wallets(session: AsyncSession, chain: str | None = None) -> list[Wallet]:
    stmt = select(Wallet).order_by(Wallet.chain, Wallet.id)
    if chain:
        stmt = stmt.where(Wallet.chain == chain)
    return list(await session.scalars(stmt))


class MerchantCache:
    """Merchants by pid, kept for `ttl_s` seconds per process.

    Every signed request needs its merchant's key; reading it each time is a
    round trip on SQLite's single connection. Care: a new merchant is seen
    at once (misses are not cached); a changed key is seen at once by a
    caller that reloads after a failed signature (`fresh=True`); a removed
    merchant lingers for at most `ttl_s`.
    """

    def __init__(self, ttl_s: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Merchant]] = {}

    async def get(self, sessions: SessionFactory, pid: str, *, fresh: bool = False) -> Merchant | None:
        now = time.monotonic()
        hit = self._entries.get(pid)
        if hit is not None and not fresh and now - hit[0] < self.ttl_s:
            return hit[1]
        async with sessions() as session:
            merchant = await get_merchant(session, pid)
        if merchant is None:
            self._entries.pop(pid, None)
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[pid] = (now, merchant)
        return merchant

    def forget(self, pid: str) -> None:
        """Drop a cached merchant (its key was rotated, it was disabled)."""
        self._entries.pop(pid, None)


async def remove_merchant(session: AsyncSession, pid: str) -> Merchant:
    """Delete a merchant that has no orders; refused while orders are live
    (pending) and, for the books, while any order of it exists at all."""
    merchant = await get_merchant(session, pid, include_disabled=True)
    if merchant is None:
        raise NotFound(f"no merchant {pid}")
    live = await session.scalar(
        select(func.count()).where(Order.merchant_id == merchant.id, Order.status == "pending")
    )
    if live:
        raise Conflict(f"merchant {pid} has {live} live (pending) order(s); disable it now, remove it later")
    total = await session.scalar(select(func.count()).where(Order.merchant_id == merchant.id))
    if total:
        raise Conflict(
            f"merchant {pid} has {total} order(s) on record, kept for the books; "
            f"`usdtpay merchant disable --pid {pid}` stops it taking orders"
        )
    await session.delete(merchant)
    await session.flush()
    return merchant


async def find_wallet(session: AsyncSession, chain: str, address: str) -> Wallet:
    canonical = normalize(chain, address)
    wallet = await session.scalar(select(Wallet).where(Wallet.chain == chain, Wallet.address == canonical))
    if wallet is None:
        raise NotFound(f"no wallet {canonical} on {chain}")
    return wallet


async def remove_wallet(session: AsyncSession, chain: str, address: str, now: datetime) -> Wallet:
    """Delete a receiving address no live order uses. A held reservation
    (order expiry plus the late window) means a payment may still arrive
    there, and a removed address is no longer watched: refused until then."""
    wallet = await find_wallet(session, chain, address)
    held = await session.scalar(
        select(func.count()).where(
            Reservation.chain == chain, Reservation.address == wallet.address, Reservation.held_until > now
        )
    )
    if held:
        latest = await session.scalar(
            select(func.max(Reservation.held_until)).where(
                Reservation.chain == chain, Reservation.address == wallet.address
            )
        )
        until = f"; try again after {latest:%Y-%m-%d %H:%M}Z" if latest else ""
        raise Conflict(
            f"wallet {wallet.address} holds {held} live order amount(s){until} "
            f"(`usdtpay wallet disable` stops new orders now)"
        )
    await session.delete(wallet)
    await session.flush()
    return wallet
