"""Group commit for attempt records.

Whatever finished while the last transaction ran is written by the next
one, so a busy worker pays one commit per batch rather than one per
request. `record` returns once its attempt is committed. The task exists
only while there is work, so nothing is left running between rounds.
"""

from __future__ import annotations

import asyncio

from engine.clock import Clock
from engine.db import SessionFactory
from engine.notify.delivery import Job, record_results
from engine.notify.transport import AttemptResult


class Recorder:
    MAX_BATCH = 200

    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.queue: list[tuple[Job, AttemptResult, asyncio.Future[str]]] = []
        self.task: asyncio.Task[None] | None = None

    async def record(self, job: Job, result: AttemptResult) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.queue.append((job, result, future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await future

    async def flush(self) -> None:
        """Wait for the records already handed over (at shutdown)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    async def _drain(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[: self.MAX_BATCH], self.queue[self.MAX_BATCH :]
            try:
                async with self.sessions() as session:
                    outcomes = await record_results(session, [(j, r) for j, r, _ in batch], self.clock.now())
                    await session.commit()
            except Exception as exc:  # unrecorded: the leases expire and the rows are sent again
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
