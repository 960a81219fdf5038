"""The delivery worker: claim due notifications, send them, record each
attempt, schedule the next one.

A worker keeps up to `notify.batch_size` claimed notifications on hand and
at most `notify.workers` requests in flight. Each merchant has one lane, so
its notifications go out one after another in outbox order while different
merchants are served concurrently. Claims and records are their own short
transactions; no session is open while a request is on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

import httpx

from engine.clock import Clock
from engine.config import Settings
from engine.db import SessionFactory
from engine.notify.delivery import Job, claim_due, lease_for, release_unsent
from engine.notify.recorder import Recorder
from engine.notify.transport import AttemptResult, new_client, send
from engine.notify.urls import Resolver

log = logging.getLogger("usdtpay.notify")

# Called between the send and the record (tests use it to simulate a crash).
AfterSend = Callable[[Job, AttemptResult], Awaitable[None]]


class Notifier:
    def __init__(
        self,
        sessions: SessionFactory,
        settings: Settings,
        clock: Clock,
        client: httpx.AsyncClient,
        *,
        resolver: Resolver | None = None,
        lease: timedelta | None = None,
        after_send: AfterSend | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.client = client
        self.resolver = resolver
        self.lease = lease or lease_for(settings)
        self.after_send = after_send
        self.attempts_made = 0  # by this worker: progress for benchmarks and tests
        self.recorder = Recorder(sessions, clock)
        self.sending = asyncio.Semaphore(max(1, settings.notify.workers))
        self.lanes: dict[int, deque[Job]] = {}
        self.on_hand = 0  # claimed and not yet recorded
        self.progress = asyncio.Event()
        self.stopping = False
        self.unsent: list[Job] = []
        self.send_budget = timedelta(seconds=settings.notify.timeout_seconds * 1.5 + 1)

    async def claim(self, limit: int, only_ids: Collection[int] | None = None) -> list[Job]:
        async with self.sessions() as session:
            jobs = await claim_due(
                session, self.clock.now(), limit=limit, lease=self.lease, only_ids=only_ids
            )
            await session.commit()
        return jobs

    async def deliver(self, job: Job) -> str:
        """Send one claimed job and record the answer."""
        async with self.sending:
            if self.clock.now() + self.send_budget > job.lease_until:
                # Too little of the lease is left to finish: another worker
                # may take the row soon, and two sends must never overlap.
                log.warning("notification %s: lease nearly over; left for the next claim", job)
                return "skipped"
            result = await send(self.client, job.delivery, self.settings, self.clock.now(), self.resolver)
        self.attempts_made += 1
        if self.after_send is not None:
            await self.after_send(job, result)
        outcome = await self.recorder.record(job, result)
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(
            level,
            "notification %s attempt %d: %s (%s, %d ms)",
            job.delivery.delivery_id,
            job.delivery.attempt_no,
            outcome,
            result.http_status if result.error is None else result.error,
            result.latency_ms,
            extra={"delivery_id": job.delivery.delivery_id, "notification_id": job.notification_id},
        )
        return outcome

    def dispatch(self, jobs: list[Job]) -> list[asyncio.Task[None]]:
        """Queue jobs on their merchant's lane; start lanes that were idle."""
        started = []
        self.on_hand += len(jobs)
        for job in jobs:
            lane = self.lanes.get(job.merchant_id)
            if lane is None:
                lane = self.lanes[job.merchant_id] = deque()
                started.append(asyncio.create_task(self._lane(job.merchant_id, lane)))
            lane.append(job)
        return started

    async def _lane(self, merchant_id: int, lane: deque[Job]) -> None:
        try:
            while lane and not self.stopping:
                job = lane.popleft()
                try:
                    await self.deliver(job)
                except Exception:  # unrecorded: its lease expires and it is sent again
                    log.exception("notification %s: recording failed", job.delivery.delivery_id)
                finally:
                    self.on_hand -= 1
                    self.progress.set()
        finally:
            self.unsent.extend(lane)
            self.on_hand -= len(lane)
            del self.lanes[merchant_id]

    async def round(self, *, limit: int | None = None, only_ids: Collection[int] | None = None) -> int:
        """Claim what is due now and deliver all of it; returns how many
        attempts were made. The step the tests and `notify retry` drive."""
        jobs = await self.claim(limit or self.settings.notify.batch_size, only_ids=only_ids)
        await asyncio.gather(*self.dispatch(jobs))
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set. Claims top the batch up once half of
        it is done (or whenever the worker is idle), so a busy worker makes
        few claim transactions and an idle one sees new rows within a poll."""
        batch = max(1, self.settings.notify.batch_size)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                self.progress.clear()
                room = batch - self.on_hand
                if room >= max(1, batch // 2) or self.on_hand == 0:
                    jobs = await self._claim_safely(room)
                    for task in self.dispatch(jobs):
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    if len(jobs) == room:
                        continue  # more may be due: look again once there is room
                await self._wait(stop)
        finally:
            await self._shut_down(tasks)

    async def _shut_down(self, tasks: set[asyncio.Task[None]]) -> None:
        """Finish the requests on the wire (up to one timeout), record them,
        and give back what was claimed but not sent."""
        self.stopping = True
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.notify.timeout_seconds + 2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.recorder.flush()
        if self.unsent:
            async with self.sessions() as session:
                released = await release_unsent(session, self.unsent)
                await session.commit()
            log.info("notifier stopping: %d claimed notifications given back unsent", released)
            self.unsent.clear()

    async def _claim_safely(self, limit: int) -> list[Job]:
        try:
            return await self.claim(limit)
        except Exception:  # the database may be briefly away; try again next poll
            log.exception("claiming notifications failed; retrying")
            return []

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until a job finishes, `stop` is set, or a poll interval passes."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.progress.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.settings.notify.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter


async def run_notifier(
    sessions: SessionFactory,
    settings: Settings,
    clock: Clock,
    stop: asyncio.Event,
    *,
    resolver: Resolver | None = None,
) -> None:
    """The `notifier` worker of `usdtpay run` and `usdtpay notify`."""
    async with new_client(settings) as client:
        log.info(
            "notifier: up to %d sends at once, %d claimed at a time, polling every %.2f s",
            settings.notify.workers,
            settings.notify.batch_size,
            settings.notify.poll_seconds,
        )
        await Notifier(sessions, settings, clock, client, resolver=resolver).run(stop)
