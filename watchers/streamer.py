"""The shared watcher loop, one per chain (ethereum-etl style).

Each step: read the node's heads; take the range [cursor, min(final head,
cursor + batch - 1)]; fetch its transfers to our addresses; ingest them and
advance the cursor in ONE transaction (invariant 4). Caught up, it also
reads the blocks above the final head and records the transfers there
that concern an order as *seen* (engine.seen: never settled from, only
shown to the payer), then sleeps the poll interval. Provider errors back off (honouring Retry-After), a
"range too large" halves the range; neither ever moves the cursor. No
database session is open while the node is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.chain import ChainReader, Heads, UnconfirmedReader
from engine.clock import Clock, SystemClock
from engine.db import SessionFactory, unit_of_work
from engine.merchants.queries import chain_addresses
from engine.redact import mask_urls_in
from engine.seen.queries import prune_below
from engine.seen.service import record_seen
from engine.settlement import IngestResult, MatchRules, advance_cursor, ingest, init_cursor, record_heads
from engine.settlement.lease import beat_ok, give_back, holder_id, note_failure, stale_after, take
from watchers.errors import ProviderError, RangeTooLarge

log = logging.getLogger("usdtpay.watch")

StepKind = Literal["ingested", "caught_up", "error"]


@dataclass(frozen=True)
class StreamerConfig:
    chain: str
    rules: MatchRules
    batch_blocks: int = 100
    poll_seconds: float = 3.0
    start_block: int | None = None  # first start only; None means the final head
    base_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    track_unconfirmed: bool = True  # record transfers above the final head as seen


@dataclass(frozen=True)
class StepResult:
    kind: StepKind
    delay: float  # how long the loop should wait before the next step
    start: int | None = None
    end: int | None = None
    ingested: IngestResult | None = None
    error: str | None = None


@dataclass
class Progress:
    """What the loop knows, for logs and `usdtpay status` in-process."""

    chain: str
    head: int | None = None
    final_head: int | None = None
    next_block: int | None = None
    batch: int = 0
    transfers: int = 0
    matched: int = 0
    errors: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    blocks: int = 0
    seen: int = 0  # transfers above the final head concerning an order, at the last look
    seen_errors: int = 0

    @property
    def lag_blocks(self) -> int | None:
        if self.final_head is None or self.next_block is None:
            return None
        return max(0, self.final_head - self.next_block + 1)

    def blocks_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.blocks / elapsed if elapsed > 0 else 0.0


class Streamer:
    def __init__(
        self,
        reader: ChainReader,
        sessions: SessionFactory,
        config: StreamerConfig,
        clock: Clock | None = None,
    ) -> None:
        if reader.chain != config.chain:
            raise ValueError(f"a {reader.chain} reader cannot feed the {config.chain} streamer")
        self.reader = reader
        self.sessions = sessions
        self.config = config
        self.clock = clock or SystemClock()
        self.batch = config.batch_blocks
        self.failures = 0  # consecutive, for the backoff
        self.progress = Progress(chain=config.chain, batch=self.batch)
        # Set by claim(): this process's watcher lease (engine.settlement.lease).
        self.holder: str | None = None
        self._failure: str | None = None

    async def claim(self, holder: str | None = None) -> None:
        """Take the chain's lease (WatcherHeld while another process watches it);
        `holder` defaults to this process (host:pid)."""
        holder = holder or holder_id()
        stale = stale_after(self.config.poll_seconds, self.config.max_backoff_s)
        await take(self.sessions, self.config.chain, holder, self.clock.now(), stale)
        self.holder = holder

    async def release(self) -> None:
        if self.holder is None:
            return
        await give_back(self.sessions, self.config.chain, self.holder, self.clock.now())
        self.holder = None

    async def _beat_ok(self, session: Any) -> None:
        if self.holder is not None:
            await beat_ok(session, self.config.chain, self.holder, self.clock.now())

    async def _note_failure(self, error: str) -> None:
        """Record the failure for status, health and metrics; never fails the step."""
        if self.holder is not None:
            await note_failure(self.sessions, self.config.chain, self.holder, error, self.clock.now())

    async def _prepare(self, heads: Heads) -> tuple[int, frozenset[str]]:
        """The cursor (created on first start) and the addresses to watch.

        Every wallet of the chain is watched, disabled ones too: a disabled
        address takes no new orders but may still be paid for old ones.
        """
        first = self.config.start_block if self.config.start_block is not None else max(heads.final, 0)
        async with unit_of_work(self.sessions) as session:
            cursor = await init_cursor(session, self.config.chain, first, self.clock.now())
            return cursor.next_block, await chain_addresses(session, self.config.chain)

    def _failed(self, exc: BaseException, during: str) -> StepResult:
        self.failures += 1
        delay = min(self.config.max_backoff_s, self.config.base_backoff_s * 2 ** (self.failures - 1))
        delay *= 1 + random.random() / 10  # spread retries of several processes
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            delay = max(delay, float(retry_after))
        # Masked before it is cut, logged or kept for `usdtpay status` / health.
        message = f"{type(exc).__name__}: {mask_urls_in(str(exc))[:300]}"
        self._failure = f"{during}: {message}"
        self.progress.errors += 1
        self.progress.last_error = message
        log.warning(
            "%s watcher: %s failed (%s); retrying in %.1f s, cursor unchanged",
            self.config.chain,
            during,
            message,
            delay,
        )
        return StepResult("error", delay=delay, error=message)

    def _shrink(self, exc: RangeTooLarge, start: int, end: int) -> StepResult:
        if self.batch == 1:
            # One block cannot be split further: treat like any provider error.
            return self._failed(exc, f"fetching block {start}")
        self.batch = max(1, (end - start + 1) // 2)
        self.progress.batch = self.batch
        log.info(
            "%s watcher: range %d-%d too large; now %d blocks per step",
            self.config.chain,
            start,
            end,
            self.batch,
        )
        return StepResult("error", delay=0.0, start=start, end=end, error=mask_urls_in(str(exc))[:300])

    async def run_step(self) -> StepResult:
        """One iteration of the loop; never sleeps (the caller waits `delay`)."""
        step = await self._step()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            await self._note_failure(failure)
        return step

    async def _step(self) -> StepResult:
        try:
            heads = await self.reader.heads()
        except Exception as exc:
            return self._failed(exc, "reading the heads")
        try:
            start, addresses = await self._prepare(heads)
        except Exception as exc:
            return self._failed(exc, "reading the cursor")
        self.progress.head, self.progress.final_head, self.progress.next_block = (
            heads.head,
            heads.final,
            start,
        )
        if start > heads.final:
            return await self._caught_up(heads, start, addresses)
        end = min(heads.final, start + self.batch - 1)
        try:
            transfers = await self.reader.transfers(start, end, addresses) if addresses else []
        except RangeTooLarge as exc:
            return self._shrink(exc, start, end)
        except Exception as exc:
            return self._failed(exc, f"fetching blocks {start}-{end}")
        try:
            async with unit_of_work(self.sessions) as session:
                result = await ingest(
                    session, self.config.chain, transfers, self.clock.now(), self.config.rules
                )
                await advance_cursor(session, self.config.chain, start, end + 1, heads, self.clock.now())
                # A seen row never outlives the final read of its block.
                await prune_below(session, self.config.chain, end + 1)
                await self._beat_ok(session)
        except Exception as exc:
            return self._failed(exc, f"ingesting blocks {start}-{end}")
        self._succeeded(start, end, result)
        if end >= heads.final:
            await self._look_above(end + 1, heads, addresses)
        delay = 0.0 if end < heads.final else self.config.poll_seconds
        return StepResult("ingested", delay=delay, start=start, end=end, ingested=result)

    async def _caught_up(self, heads: Heads, start: int, addresses: frozenset[str]) -> StepResult:
        try:
            async with unit_of_work(self.sessions) as session:
                await record_heads(session, self.config.chain, heads, self.clock.now())
                await self._beat_ok(session)
        except Exception as exc:
            return self._failed(exc, "recording the heads")
        self.failures = 0
        await self._look_above(start, heads, addresses)
        return StepResult("caught_up", delay=self.config.poll_seconds)

    async def _look_above(self, start: int, heads: Heads, addresses: frozenset[str]) -> None:
        """Record the transfers of blocks [start, head] above the final head
        as seen. A failure here costs only the early sign to the payer: it
        is logged and never delays or moves the final scan."""
        reader = self.reader
        if not self.config.track_unconfirmed or not isinstance(reader, UnconfirmedReader):
            return
        first = max(start, heads.final + 1)
        try:
            found = []
            if addresses and first <= heads.head:
                found = await reader.unconfirmed_transfers(first, heads.head, addresses)
            async with unit_of_work(self.sessions) as session:
                change = await record_seen(
                    session, self.config.chain, found, self.clock.now(), self.config.rules
                )
        except Exception as exc:
            self.progress.seen_errors += 1
            log.warning(
                "%s watcher: reading blocks above the final head failed (%s: %s); payments there "
                "show as seen later, settlement is not affected",
                self.config.chain,
                type(exc).__name__,
                str(exc)[:200],
            )
            return
        self.progress.seen = change.added + change.kept

    def _succeeded(self, start: int, end: int, result: IngestResult) -> None:
        self.failures = 0
        if self.batch < self.config.batch_blocks:  # grow back after a shrink
            self.batch = min(self.config.batch_blocks, self.batch * 2)
        p = self.progress
        p.next_block, p.batch = end + 1, self.batch
        p.blocks += end - start + 1
        p.transfers += result.received
        p.matched += len(result.matched_orders)
        if result.matched_orders or result.unmatched:
            log.info(
                "%s blocks %d-%d: %d transfers, %d orders paid, unmatched %s",
                self.config.chain,
                start,
                end,
                result.received,
                len(result.matched_orders),
                dict(result.unmatched) or "none",
            )

    async def run(self, stop: asyncio.Event, *, progress_every_s: float = 30.0) -> None:
        """Step until `stop` is set, waiting between steps as each asks."""
        await self.claim()
        log.info("%s watcher starting (batch %d blocks)", self.config.chain, self.batch)
        last_report = time.monotonic()
        try:
            while not stop.is_set():
                step = await self.run_step()
                if time.monotonic() - last_report >= progress_every_s:
                    last_report = time.monotonic()
                    self.log_progress()
                if step.delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=step.delay)
        finally:
            await self.release()
        log.info("%s watcher stopped at block %s", self.config.chain, self.progress.next_block)

    def log_progress(self) -> None:
        p = self.progress
        log.info(
            "%s watcher: next block %s, final head %s, lag %s blocks, %.1f blocks/s, "
            "%d transfers, %d paid, %d errors",
            p.chain,
            p.next_block,
            p.final_head,
            p.lag_blocks,
            p.blocks_per_second(),
            p.transfers,
            p.matched,
            p.errors,
        )


__all__ = ["Progress", "ProviderError", "StepResult", "Streamer", "StreamerConfig"]
