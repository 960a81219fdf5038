"""The delivery worker: claim due notifications, send them, record each
attempt, schedule the next one.

Each merchant gets one lane at a time in a worker, so a merchant's
notifications go out one after another in outbox order; different merchants
are served concurrently, up to `notify.workers` sends in flight. Claims,
sends and records are separate steps: a claim commits before any request
is made, and every record is its own short transaction after the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import timedelta

import httpx

from engine.clock import Clock
from engine.config import Settings
from engine.db import SessionFactory
from engine.notify.delivery import Job, claim_due, lease_for, record_result
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

    async def claim(
        self, limit: int, exclude: Collection[int] = (), only_ids: Collection[int] | None = None
    ) -> list[Job]:
        async with self.sessions() as session:
            jobs = await claim_due(
                session,
                self.clock.now(),
                limit=limit,
                lease=self.lease,
                exclude_merchants=exclude,
                only_ids=only_ids,
            )
            await session.commit()
        return jobs

    async def deliver(self, job: Job) -> str:
        """Send one claimed job and record the answer."""
        result = await send(self.client, job.delivery, self.settings, self.clock.now(), self.resolver)
        if self.after_send is not None:
            await self.after_send(job, result)
        async with self.sessions() as session:
            outcome = await record_result(session, job, result, self.clock.now())
            await session.commit()
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(
            level,
            "notification %s attempt %d: %s (%s, %d ms)",
            job.delivery.delivery_id,
            job.delivery.attempt_no,
            outcome,
            result.http_status if result.error is None else result.error,
            result.latency_ms,
        )
        return outcome

    async def lane(self, jobs: list[Job]) -> None:
        """One merchant's claimed jobs, in order."""
        for job in jobs:
            await self.deliver(job)

    async def round(self, *, limit: int | None = None, only_ids: Collection[int] | None = None) -> int:
        """Claim what is due now and deliver all of it; returns how many
        attempts were made. The step the tests and `notify retry` drive."""
        jobs = await self.claim(limit or self.settings.notify.batch_size, only_ids=only_ids)
        await asyncio.gather(*(self.lane(lane) for lane in by_merchant(jobs)))
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, keeping up to `workers` lanes busy."""
        capacity = max(1, self.settings.notify.workers)
        lanes: dict[int, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                free = min(capacity - len(lanes), self.settings.notify.batch_size)
                jobs = await self._claim_safely(free, lanes.keys()) if free > 0 else []
                for lane in by_merchant(jobs):
                    lanes[lane[0].merchant_id] = asyncio.create_task(self.lane(lane))
                if jobs and len(jobs) == free:
                    await _wait_any(lanes.values(), stop, wait_s=0)
                else:
                    await _wait_any(lanes.values(), stop, wait_s=self.settings.notify.poll_seconds)
                for merchant_id, task in list(lanes.items()):
                    if task.done():
                        del lanes[merchant_id]
                        _log_crash(task)
        finally:
            for task in lanes.values():
                task.cancel()
            await asyncio.gather(*lanes.values(), return_exceptions=True)

    async def _claim_safely(self, limit: int, busy: Collection[int]) -> list[Job]:
        try:
            return await self.claim(limit, exclude=list(busy))
        except Exception:  # the database may be briefly away; try again next poll
            log.exception("claiming notifications failed; retrying")
            return []


def by_merchant(jobs: Iterable[Job]) -> list[list[Job]]:
    lanes: dict[int, list[Job]] = {}
    for job in jobs:
        lanes.setdefault(job.merchant_id, []).append(job)
    return list(lanes.values())


async def _wait_any(tasks: Iterable[asyncio.Task[None]], stop: asyncio.Event, *, wait_s: float) -> None:
    """Until a lane finishes, `stop` is set, or `wait_s` passes."""
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([*tasks, stopper], timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper


def _log_crash(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        # A record that failed leaves the lease to expire: the row is retried.
        log.error("a notification lane failed: %r; its rows are retried after the lease", exc)


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
            "notifier: up to %d sends at once, polling every %.2f s",
            settings.notify.workers,
            settings.notify.poll_seconds,
        )
        await Notifier(sessions, settings, clock, client, resolver=resolver).run(stop)
