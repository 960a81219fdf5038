"""Claiming due notifications and recording attempts: the database half of
delivery. Each function works in the caller's session and only flushes;
the delivery step commits, and never keeps a session open while sending.

A claim is a lease (`claimed_until`). On PostgreSQL rows are picked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows; on
SQLite every write transaction is BEGIN IMMEDIATE, so claims serialise.
Claiming opens the attempt row (outcome `sending`) and counts the attempt;
recording fills it in. A worker that dies in between leaves the lease to
expire: the row is claimed again and sent once more (at-least-once), and
the orphaned attempt is marked `unknown`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.config import Settings
from engine.models import Notification, NotificationAttempt
from engine.notify import queries
from engine.notify.schemes import SCHEMES
from engine.notify.transport import AttemptResult, Delivery


@dataclass(frozen=True)
class Job:
    """A claimed notification: the attempt to make and how to record it."""

    notification_id: int
    attempt_id: int
    merchant_id: int
    first_attempt_at: datetime
    started_at: datetime
    lease_until: datetime
    delivery: Delivery

    def __repr__(self) -> str:
        return f"Job({self.notification_id}, {self.delivery!r})"


def lease_for(settings: Settings) -> timedelta:
    """How long a claim holds a row: enough for the worker to work through
    everything it has on hand (`batch_size` rows, `workers` at a time, each
    at most `timeout_seconds`) with room to spare. After a crash it is also
    how long the row waits before another worker sends it again."""
    notify = settings.notify
    rounds = 2 * notify.batch_size / max(1, notify.workers) + 1
    return timedelta(seconds=60 + notify.timeout_seconds * rounds)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    exclude_merchants: Collection[int] = (),
    only_ids: Collection[int] | None = None,
) -> list[Job]:
    """Lease up to `limit` due rows, oldest first; flush only."""
    if limit <= 0:
        return []
    ids = await queries.due_ids(
        session, now, limit=limit, exclude_merchants=exclude_merchants, only_ids=only_ids
    )
    if not ids:
        return []
    # Attempts still `sending` belong to a claim whose worker died.
    await session.execute(
        update(NotificationAttempt)
        .where(NotificationAttempt.notification_id.in_(ids), NotificationAttempt.outcome == "sending")
        .values(
            outcome="unknown", error="the worker stopped before recording this attempt; it may have been sent"
        )
    )
    rows = await queries.with_merchant_keys(session, ids)
    opened = [(row, key, _open_attempt(row, now, lease)) for row, key in rows]
    session.add_all([attempt for _, _, attempt in opened])
    await session.flush()  # one round trip for all the attempt ids
    return [
        Job(
            row.id,
            attempt.id,
            row.merchant_id,
            row.first_attempt_at or now,
            now,
            now + lease,
            Delivery(row.delivery_id, row.scheme, row.url, row.body, row.attempts, key),
        )
        for row, key, attempt in opened
    ]


def _open_attempt(row: Notification, now: datetime, lease: timedelta) -> NotificationAttempt:
    row.attempts += 1
    row.claimed_until = now + lease
    if row.first_attempt_at is None:
        row.first_attempt_at = now
    return NotificationAttempt(
        notification_id=row.id, attempt_no=row.attempts, started_at=now, outcome="sending"
    )


def outcome_of(job: Job, result: AttemptResult) -> tuple[str, datetime | None]:
    """delivered, retry (with when) or failed (schedule exhausted)."""
    if result.acknowledged:
        return "delivered", None
    scheme = SCHEMES[job.delivery.scheme]
    nxt = scheme.next_attempt(job.delivery.attempt_no, job.first_attempt_at, job.started_at)
    return ("retry", nxt) if nxt is not None else ("failed", None)


async def record_result(session: AsyncSession, job: Job, result: AttemptResult, now: datetime) -> str:
    """Write one attempt and move its notification on; flush only."""
    return (await record_results(session, [(job, result)], now))[0]


async def record_results(
    session: AsyncSession, done: Sequence[tuple[Job, AttemptResult]], now: datetime
) -> list[str]:
    """Write attempts and move their notifications on, in one transaction
    (the delivery step groups what finished together); flush only.

    If a lease was lost meanwhile (another worker claimed the row again, so
    `attempts` moved on), only the attempt is written, unless this one was
    acknowledged: an acknowledgement always marks the row delivered.
    """
    attempt_ids = [job.attempt_id for job, _ in done]
    row_ids = sorted({job.notification_id for job, _ in done})  # one lock order for every worker
    attempts = await queries.attempts_by_id(session, attempt_ids)
    rows = await queries.locked_by_id(session, row_ids)
    outcomes = []
    caught_up: set[tuple[int, str]] = set()
    for job, result in done:
        outcome, nxt = outcome_of(job, result)
        outcomes.append(outcome)
        attempt = attempts.get(job.attempt_id)
        if attempt is not None:
            attempt.http_status = result.http_status
            attempt.latency_ms = result.latency_ms
            attempt.response_body = result.body_text
            attempt.error = result.error
            attempt.outcome = outcome
        row = rows.get(job.notification_id)
        if row is not None and _apply(row, job, result, outcome, nxt, now):
            caught_up.add((row.merchant_id, row.url))
    await session.flush()
    for merchant_id, url in caught_up:
        await _catch_up(session, merchant_id, url, now)
    return outcomes


def _apply(
    row: Notification, job: Job, result: AttemptResult, outcome: str, nxt: datetime | None, now: datetime
) -> bool:
    """Move the row on; True when it was newly delivered."""
    if row.status == "delivered":
        return False
    if outcome == "delivered":
        row.status, row.delivered_at, row.claimed_until, row.last_error = "delivered", now, None, None
        return True
    if row.attempts == job.delivery.attempt_no:
        row.claimed_until = None
        row.last_error = result.error
        if outcome == "retry" and nxt is not None:
            row.next_attempt_at = nxt
        else:
            row.status = "failed"
    return False


async def _catch_up(session: AsyncSession, merchant_id: int, url: str, now: datetime) -> None:
    """The merchant's endpoint answers again: bring its other waiting
    notifications forward instead of leaving them to their backoff."""
    await session.execute(
        update(Notification)
        .where(
            Notification.merchant_id == merchant_id,
            Notification.url == url,
            Notification.status == "pending",
            Notification.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )


async def release_unsent(session: AsyncSession, jobs: Sequence[Job]) -> int:
    """Give back claimed jobs that were never sent (a worker stopping):
    the attempt is taken back and the row is due again at once, instead of
    waiting for its lease. Rows claimed again meanwhile are left alone."""
    released = 0
    for job in sorted(jobs, key=lambda j: j.notification_id):
        row = await session.get(Notification, job.notification_id, with_for_update=True)
        if row is None or row.status != "pending" or row.attempts != job.delivery.attempt_no:
            continue
        row.attempts -= 1
        row.claimed_until = None
        if row.attempts == 0:
            row.first_attempt_at = None
        await session.execute(delete(NotificationAttempt).where(NotificationAttempt.id == job.attempt_id))
        released += 1
    await session.flush()
    return released
