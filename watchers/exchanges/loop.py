"""The exchange watcher: every poll, one step per enabled account.

Shared by `usdtpay watch okx|binance|htx` and the `watch-<exchange>` worker
of `usdtpay run`. A step that did not reach now (a catch-up after
downtime) is followed at once by the next. Errors never move a cursor:
rate limits wait their Retry-After, other provider errors back off per
account, and a refused key (wrong key, lost permission) waits five minutes
and says so in the log and in `usdtpay exchange list`.

Like a chain watcher, it holds a lease (engine.settlement.lease) named
after its exchange while it runs: a second watcher of the same exchange,
hence of the same receiving accounts, is refused at start, naming the
process that holds them. Every poll beats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.db import SessionFactory, unit_of_work
from engine.exchanges import queries
from engine.exchanges.ingest import exchange_rules
from engine.exchanges.ports import ExchangeReader
from engine.exchanges.watch import StepResult, WatchConfig, record_error, watch_step
from engine.models import ExchangeAccount
from engine.settlement import CursorMoved
from engine.settlement.lease import (
    EXCHANGE_MAX_BACKOFF_S,
    beat_alive,
    beat_ok,
    give_back,
    holder_id,
    note_failure,
    stale_after,
    take,
)
from watchers.errors import ProviderError
from watchers.exchanges.build import reader_for_account
from watchers.exchanges.errors import ExchangeAuthError

log = logging.getLogger("usdtpay.watch.exchanges")
MAX_BACKOFF_S = EXCHANGE_MAX_BACKOFF_S


@dataclass
class _Slot:
    version: tuple[str, str]  # (api key as stored, checked_at): a re-added key rebuilds the reader
    reader: ExchangeReader
    strikes: int = 0
    not_before: float = 0.0


@dataclass
class ExchangeWatcher:
    settings: Settings
    sessions: SessionFactory
    exchange: str
    clock: Clock = field(default_factory=SystemClock)
    slots: dict[int, _Slot] = field(default_factory=dict)
    holder: str | None = None  # set by claim(): this process's lease on the exchange

    @property
    def config(self) -> WatchConfig:
        return WatchConfig.from_settings(self.settings.exchanges)

    async def _accounts(self) -> list[ExchangeAccount]:
        async with self.sessions() as session:
            return await queries.list_accounts(session, self.exchange, enabled_only=True)

    def _slot(self, account: ExchangeAccount) -> _Slot:
        version = (account.api_key, account.checked_at.isoformat())
        slot = self.slots.get(account.id)
        if slot is None or slot.version != version:
            slot = _Slot(version, reader_for_account(account, self.settings))
            self.slots[account.id] = slot
        return slot

    async def claim(self, holder: str | None = None) -> None:
        """Take the exchange's lease (WatcherHeld while another process watches
        its accounts); `holder` defaults to this process (host:pid)."""
        holder = holder or holder_id()
        ids = ", ".join(f"#{a.id}" for a in await self._accounts()) or "none enabled yet"
        what = f"every {self.exchange} receiving account ({ids})"
        stale = stale_after(self.settings.exchanges.poll_seconds, MAX_BACKOFF_S)
        await take(self.sessions, self.exchange, holder, self.clock.now(), stale, what)
        self.holder = holder

    async def release(self) -> None:
        if self.holder is not None:
            await give_back(self.sessions, self.exchange, self.holder, self.clock.now())
            self.holder = None

    async def _beat(self, error: str | None, waiting: bool = False) -> None:
        """The poll's outcome on the lease, for status: ok, its last error, or
        (`waiting`: an account that failed is still backing off) still failing."""
        if self.holder is None:
            return
        if error is not None:
            await note_failure(self.sessions, self.exchange, self.holder, error, self.clock.now())
            return
        async with unit_of_work(self.sessions) as session:
            beat = beat_alive if waiting else beat_ok
            await beat(session, self.exchange, self.holder, self.clock.now())

    async def step_all(self) -> list[StepResult]:
        """One step for every enabled account that is not backing off."""
        accounts = await self._accounts()
        await self._drop_gone({a.id for a in accounts})
        rules = exchange_rules(self.settings.orders.late_window_minutes)
        results: list[StepResult] = []
        error: str | None = None
        waiting = False  # a skipped account's last step failed: the watcher still fails
        loop_time = asyncio.get_running_loop().time()
        for account in accounts:
            slot = self._slot(account)
            if slot.not_before > loop_time:
                waiting = waiting or slot.strikes > 0
                continue
            try:
                results.append(
                    await watch_step(
                        self.sessions, slot.reader, account.id, rules, self.config, self.clock.now()
                    )
                )
                slot.strikes = 0
            except (ProviderError, CursorMoved) as exc:
                error = f"account #{account.id}: {exc}"
                await self._failed(account, slot, exc)
        await self._beat(error, waiting)
        return results

    async def _failed(self, account: ExchangeAccount, slot: _Slot, exc: Exception) -> None:
        slot.strikes += 1
        wait = getattr(exc, "retry_after", None) or min(MAX_BACKOFF_S, 2.0**slot.strikes)
        if isinstance(exc, ExchangeAuthError | CursorMoved):
            wait = MAX_BACKOFF_S
            log.error("%s account #%d: %s", self.exchange, account.id, exc)
        else:
            log.warning("%s account #%d: %s; next try in %.0f s", self.exchange, account.id, exc, wait)
        slot.not_before = asyncio.get_running_loop().time() + wait
        await record_error(self.sessions, account.id, str(exc))

    async def _drop_gone(self, enabled: set[int]) -> None:
        for account_id in [i for i in self.slots if i not in enabled]:
            await self.slots.pop(account_id).reader.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        await self.claim()
        try:
            while not stop.is_set():
                results = await self.step_all()
                behind = any(not r.window.caught_up for r in results)
                delay = 0.0 if behind else self.settings.exchanges.poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self._drop_gone(set())
        await self.release()


async def run_exchange_watcher(
    settings: Settings,
    sessions: SessionFactory,
    exchange: str,
    stop: asyncio.Event,
    clock: Clock | None = None,
) -> None:
    await ExchangeWatcher(settings, sessions, exchange, clock or SystemClock()).run(stop)
