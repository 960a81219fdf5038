"""Merchants and receiving wallets: adding, removing, API keys, and the
per-process merchant cache the signed faces read through."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from engine.addresses import normalize
from engine.db import READ_ONLY, SessionFactory
from engine.errors import BadInput, Conflict, Forbidden, NotFound
from engine.merchant_keys import hash_api_key, new_api_key
from engine.merchants import queries
from engine.models import Merchant, Wallet

log = logging.getLogger("usdtpay.merchants")


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

    The read takes no write lock (engine.db.READ_ONLY), an entry past half
    its life is read again in the background while callers keep getting it,
    and concurrent misses share one read. Why: on SQLite a session begins
    with BEGIN IMMEDIATE, holding the write lock across several thread hops;
    when an entry expired under load, every request in flight read it in
    turn and the group-commit writer waited out all of them (creates
    stalled ~100 ms every `ttl_s`).
    """

    refresh_after = 0.5  # of ttl_s

    def __init__(self, ttl_s: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Merchant]] = {}
        self._loading: dict[str, asyncio.Task[Merchant | None]] = {}
        self._generation = 0  # forget() makes a read asked for before it store nothing

    async def get(self, sessions: SessionFactory, pid: str, *, fresh: bool = False) -> Merchant | None:
        if fresh:  # must see what was committed before this call: no shared read
            return await self._load(sessions, pid, self._generation)
        hit = self._entries.get(pid)
        age = time.monotonic() - hit[0] if hit is not None else self.ttl_s
        loading = self._loading.get(pid)
        if loading is not None and loading.get_loop() is not asyncio.get_running_loop():
            loading = None  # left by another event loop (tests run several in turn)
        if hit is not None and age < self.ttl_s:
            if loading is None and age >= self.ttl_s * self.refresh_after:
                self._start(sessions, pid)
            return hit[1]
        return await asyncio.shield(loading or self._start(sessions, pid))

    def _start(self, sessions: SessionFactory, pid: str) -> asyncio.Task[Merchant | None]:
        task = asyncio.get_running_loop().create_task(self._load(sessions, pid, self._generation))
        self._loading[pid] = task
        task.add_done_callback(partial(self._loaded, pid))
        return task

    def _loaded(self, pid: str, task: asyncio.Task[Merchant | None]) -> None:
        if self._loading.get(pid) is task:
            del self._loading[pid]
        if not task.cancelled() and task.exception() is not None:  # retrieved: a waiter re-raises it
            log.warning("reading merchant %s failed: %s", pid[:32], task.exception())

    async def _load(self, sessions: SessionFactory, pid: str, generation: int) -> Merchant | None:
        started = time.monotonic()
        async with sessions() as session:
            await session.connection(execution_options={READ_ONLY: True})
            merchant = await queries.get_merchant(session, pid)
        if generation != self._generation:
            return merchant
        if merchant is None:
            self._entries.pop(pid, None)
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[pid] = (started, merchant)
        return merchant

    def forget(self, pid: str) -> None:
        """Drop a cached merchant (its key was rotated, it was disabled)."""
        self._generation += 1
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
