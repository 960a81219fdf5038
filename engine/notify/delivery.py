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

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from engine.config import Settings
from engine.models import Merchant, Notification, NotificationAttempt
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
    delivery: Delivery

    def __repr__(self) -> str:
        return f"Job({self.notification_id}, {self.delivery!r})"


def lease_for(settings: Settings) -> timedelta:
    """Long enough for a lane of `workers` sequential sends to finish; after
    a crash it is also how long a claimed row waits before another try."""
    return timedelta(seconds=60 + settings.notify.timeout_seconds * (settings.notify.workers + 1))


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Notification.status == "pending",
        Notification.next_attempt_at <= now,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
    ]


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
    stmt = select(Notification.id).where(*_due(now))
    if exclude_merchants:
        stmt = stmt.where(Notification.merchant_id.not_in(list(exclude_merchants)))
    if only_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(only_ids)))
    stmt = stmt.order_by(Notification.id).limit(limit).with_for_update(skip_locked=True)
    ids = list((await session.scalars(stmt)).all())
    if not ids:
        return []
    # Attempts still `sending` belong to a claim whose worker died.
    await session.execute(
        update(NotificationAttempt)
        .where(NotificationAttempt.notification_id.in_(ids), NotificationAttempt.outcome == "sending")
        .values(outcome="unknown", error="worker stopped before recording the answer; sent again")
    )
    rows = await session.execute(
        select(Notification, Merchant.key)
        .join(Merchant, Merchant.id == Notification.merchant_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    )
    return [await _open_attempt(session, row, key, now, lease) for row, key in rows.tuples()]


async def _open_attempt(
    session: AsyncSession, row: Notification, key: str, now: datetime, lease: timedelta
) -> Job:
    row.attempts += 1
    row.claimed_until = now + lease
    if row.first_attempt_at is None:
        row.first_attempt_at = now
    attempt = NotificationAttempt(
        notification_id=row.id, attempt_no=row.attempts, started_at=now, outcome="sending"
    )
    session.add(attempt)
    await session.flush()
    delivery = Delivery(row.delivery_id, row.scheme, row.url, row.body, row.attempts, key)
    return Job(row.id, attempt.id, row.merchant_id, row.first_attempt_at, now, delivery)


def outcome_of(job: Job, result: AttemptResult) -> tuple[str, datetime | None]:
    """delivered, retry (with when) or failed (schedule exhausted)."""
    if result.acknowledged:
        return "delivered", None
    scheme = SCHEMES[job.delivery.scheme]
    nxt = scheme.next_attempt(job.delivery.attempt_no, job.first_attempt_at, job.started_at)
    return ("retry", nxt) if nxt is not None else ("failed", None)


async def record_result(session: AsyncSession, job: Job, result: AttemptResult, now: datetime) -> str:
    """Write the attempt and move the notification on; flush only.

    If the lease was lost meanwhile (another worker claimed the row again,
    so `attempts` moved on), only the attempt is written, unless this one
    was acknowledged: an acknowledgement always marks the row delivered.
    """
    outcome, nxt = outcome_of(job, result)
    attempt = await session.get(NotificationAttempt, job.attempt_id)
    if attempt is not None:
        attempt.http_status = result.http_status
        attempt.latency_ms = result.latency_ms
        attempt.response_body = result.body_text
        attempt.error = result.error
        attempt.outcome = outcome
    row = await session.get(Notification, job.notification_id, with_for_update=True)
    if row is None or row.status == "delivered":
        await session.flush()
        return outcome
    if outcome == "delivered":
        row.status, row.delivered_at, row.claimed_until, row.last_error = "delivered", now, None, None
        await _catch_up(session, row, now)
    elif row.attempts == job.delivery.attempt_no:
        row.claimed_until = None
        row.last_error = result.error
        if outcome == "retry" and nxt is not None:
            row.next_attempt_at = nxt
        else:
            row.status = "failed"
    await session.flush()
    return outcome


async def _catch_up(session: AsyncSession, row: Notification, now: datetime) -> None:
    """The merchant's endpoint answers again: bring its other waiting
    notifications forward instead of leaving them to their backoff."""
    await session.execute(
        update(Notification)
        .where(
            Notification.merchant_id == row.merchant_id,
            Notification.url == row.url,
            Notification.status == "pending",
            Notification.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
