"""Merchants and receiving wallets: adding, removing, API keys, and the
per-process merchant cache the signed faces read through."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine.addresses import normalize
from engine.db import SessionFactory
from engine.errors import BadInput, Conflict, Forbidden, NotFound
from engine.merchant_keys import hash_api_key, new_api_key
from engine.merchants import queries
from engine.models import Merchant, Wallet


async def require_merchant(session: AsyncSession, pid: object) -> Merchant:
    """403 for an unknown pid, as seed 004's error table says."""
    if not isinstance(pid, str) or not pid:
        raise Forbidden("pid is missing or unknown")
    merchant = await queries.get_merchant(session, pid)
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
    if await queries.get_merchant(session, pid, include_disabled=True) is not None:
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
    merchant = await queries.get_merchant(session, pid, include_disabled=True)
    if merchant is None:
        raise NotFound(f"no merchant {pid[:32]!r}")
    api_key = new_api_key()
    merchant.api_key_hash = hash_api_key(api_key)
    await session.flush()
    return api_key


async def add_wallet(
    session: AsyncSession, chain: str, address: str, now: datetime, label: str = ""
) -> Wallet:
    canonical = normalize(chain, address)
    if await queries.wallet_at(session, chain, canonical) is not None:
        raise Conflict(f"wallet {canonical} on {chain} exists")
    wallet = Wallet(chain=chain, address=canonical, enabled=True, label=label, created_at=now)
    session.add(wallet)
    await session.flush()
    return wallet


class MerchantCache:
    """Merchants by pid, kept for `ttl_s` seconds per process.

    Every signed request needs its merchant's key; reading it each time is a
    round trip on SQLite's single connection. Care: a new merchant is seen
    at once (misses are not cached); a changed key is seen at once by a
    caller that reloads after a failed signature (`fresh=True`); a removed
    merchant lingers for at most `ttl_s`.

    When an entry expires, the requests that find it so while it is being
    read again wait for that one read instead of each starting its own: on
    a busy process that was hundreds of ORM reads through the async engine
    every `ttl_s` (a few % of a status query's CPU). Only a merchant found
    is shared that way; a miss is read again by each caller.
    """

    def __init__(self, ttl_s: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Merchant]] = {}
        self._loading: dict[str, asyncio.Task[Merchant | None]] = {}

    async def get(self, sessions: SessionFactory, pid: str, *, fresh: bool = False) -> Merchant | None:
        now = time.monotonic()
        hit = self._entries.get(pid)
        if hit is not None and not fresh and now - hit[0] < self.ttl_s:
            return hit[1]
        if fresh:
            return await self._load(sessions, pid, now)
        loop = asyncio.get_running_loop()
        loading = self._loading.get(pid)
        if loading is not None and loading.get_loop() is loop:
            shared = await asyncio.shield(loading)
            return shared if shared is not None else await self._load(sessions, pid, now)
        # A task, so that a caller cancelled meanwhile (a client gone) does
        # not cancel the read the others wait for.
        task = self._loading[pid] = loop.create_task(self._load(sessions, pid, now))
        try:
            return await asyncio.shield(task)
        finally:
            if self._loading.get(pid) is task:
                del self._loading[pid]

    async def _load(self, sessions: SessionFactory, pid: str, started: float) -> Merchant | None:
        async with sessions() as session:
            merchant = await queries.get_merchant(session, pid)
        if merchant is None:
            self._entries.pop(pid, None)
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[pid] = (started, merchant)
        return merchant

    def forget(self, pid: str) -> None:
        """Drop a cached merchant (its key was rotated, it was disabled)."""
        self._entries.pop(pid, None)
        self._loading.pop(pid, None)  # a read begun before is not shared with later callers


async def remove_merchant(session: AsyncSession, pid: str) -> Merchant:
    """Delete a merchant that has no orders; refused while orders are live
    (pending) and, for the books, while any order of it exists at all."""
    merchant = await queries.get_merchant(session, pid, include_disabled=True)
    if merchant is None:
        raise NotFound(f"no merchant {pid}")
    live = await queries.order_count(session, merchant.id, status="pending")
    if live:
        raise Conflict(f"merchant {pid} has {live} live (pending) order(s); disable it now, remove it later")
    total = await queries.order_count(session, merchant.id)
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
    wallet = await queries.wallet_at(session, chain, canonical)
    if wallet is None:
        raise NotFound(f"no wallet {canonical} on {chain}")
    return wallet


async def remove_wallet(session: AsyncSession, chain: str, address: str, now: datetime) -> Wallet:
    """Delete a receiving address no live order uses. A held reservation
    (order expiry plus the late window) means a payment may still arrive
    there, and a removed address is no longer watched: refused until then."""
    wallet = await find_wallet(session, chain, address)
    held = await queries.live_holds(session, chain, wallet.address, now)
    if held:
        latest = await queries.last_hold_until(session, chain, wallet.address)
        until = f"; try again after {latest:%Y-%m-%d %H:%M}Z" if latest else ""
        raise Conflict(
            f"wallet {wallet.address} holds {held} live order amount(s){until} "
            f"(`usdtpay wallet disable` stops new orders now)"
        )
    await session.delete(wallet)
    await session.flush()
    return wallet
