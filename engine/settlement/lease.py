"""Watcher leases: one process watches a chain, and says how it is doing.

A watcher claims its chain's row at start (`take`): refused (WatcherHeld,
naming the holder) while another process holds it and still beats; a holder on this
host whose process is gone (SIGKILL, crash) is taken over at once. Every step beats:
a success clears `failing_since`, a failure records the error and keeps the
time the failing began. Readers (engine.monitoring) tell running, failing,
stopped and never-started watchers apart from these rows in any process
(engine.leases judges a row; this module changes them).
An exchange watcher (`usdtpay watch okx`) holds the row named after its
exchange, for every enabled receiving account of it, the same way.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from engine.db import SessionFactory, unit_of_work
from engine.errors import Conflict
from engine.leases import EXCHANGE_MAX_BACKOFF_S as EXCHANGE_MAX_BACKOFF_S  # the watchers take it here
from engine.leases import is_live
from engine.leases import stale_after as stale_after  # the watchers take it here
from engine.models import WatcherLease
from engine.redact import mask_urls_in

log = logging.getLogger("usdtpay.watch.lease")


class WatcherHeld(Conflict):
    """Another live process already watches this chain."""

    code = "watcher_held"


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def get_lease(session: AsyncSession, chain: str) -> WatcherLease | None:
    return await session.get(WatcherLease, chain, populate_existing=True, with_for_update=True)


async def claim(
    session: AsyncSession, chain: str, holder: str, now: datetime, stale: timedelta, what: str = ""
) -> WatcherLease:
    """Take the chain for `holder`; WatcherHeld while another process holds it.

    Two processes claiming an unheld chain at once both insert; the database
    refuses one (primary key), whose caller then reads the holder and is refused."""
    lease = await get_lease(session, chain)
    if lease is not None and lease.holder != holder and is_live(lease, now, stale):
        seen = int((now - lease.heartbeat_at).total_seconds())
        raise WatcherHeld(
            f"{what or f'the {chain} chain'} is already watched by process {lease.holder} "
            f"(since {lease.started_at:%Y-%m-%d %H:%M:%S}Z, last seen {seen} s ago); stop that one "
            f"first, or wait {int(stale.total_seconds())} s after it died"
        )
    if lease is None:
        lease = WatcherLease(chain=chain, errors=0)
        session.add(lease)
    lease.holder, lease.started_at, lease.heartbeat_at, lease.released = holder, now, now, False
    lease.failing_since, lease.last_error = None, None
    await session.flush()
    return lease


def _mine(chain: str, holder: str) -> object:
    return (WatcherLease.chain == chain) & (WatcherLease.holder == holder)


async def beat_ok(session: AsyncSession, chain: str, holder: str, now: datetime) -> None:
    """A step succeeded: the watcher is running (flush only, in the step's transaction)."""
    await session.execute(
        update(WatcherLease)
        .where(_mine(chain, holder))  # type: ignore[arg-type]
        .values(heartbeat_at=now, last_ok_at=now, failing_since=None)
        .execution_options(synchronize_session=False)
    )


async def beat_alive(session: AsyncSession, chain: str, holder: str, now: datetime) -> None:
    """The watcher runs but a failure is still being waited out (an exchange
    account backing off): beat, keep it failing (flush only)."""
    await session.execute(
        update(WatcherLease)
        .where(_mine(chain, holder))  # type: ignore[arg-type]
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )


async def beat_failed(session: AsyncSession, chain: str, holder: str, error: str, now: datetime) -> None:
    """A step failed: keep when the failing began, the error, and a count."""
    await session.execute(
        update(WatcherLease)
        .where(_mine(chain, holder))  # type: ignore[arg-type]
        .values(
            heartbeat_at=now,
            last_error=mask_urls_in(error)[:512],  # shown by status and /api/health
            errors=WatcherLease.errors + 1,
            failing_since=func.coalesce(WatcherLease.failing_since, now),
        )
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, chain: str, holder: str, now: datetime) -> None:
    """The watcher stops: the chain may be claimed at once."""
    await session.execute(
        update(WatcherLease)
        .where(_mine(chain, holder))  # type: ignore[arg-type]
        .values(released=True, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )


async def take(
    sessions: SessionFactory, chain: str, holder: str, now: datetime, stale: timedelta, what: str = ""
) -> None:
    """`claim` in a transaction of its own, as a watcher does at start; `what`
    names the watched thing in the refusal (default "the <chain> chain")."""
    for attempt in (1, 2):
        try:
            async with unit_of_work(sessions) as session:
                await claim(session, chain, holder, now, stale, what)
            return
        except IntegrityError:  # another process inserted the row first: now it is refused
            if attempt == 2:
                raise


async def give_back(sessions: SessionFactory, chain: str, holder: str, now: datetime) -> None:
    """`release` in a transaction of its own; never fails a stopping watcher."""
    try:
        async with unit_of_work(sessions) as session:
            await release(session, chain, holder, now)
    except Exception as exc:  # the lease goes stale by itself
        log.warning("%s watcher: could not release its lease (%s)", chain, exc)


async def note_failure(sessions: SessionFactory, chain: str, holder: str, error: str, now: datetime) -> None:
    """`beat_failed` in a transaction of its own; never fails the step."""
    try:
        async with unit_of_work(sessions) as session:
            await beat_failed(session, chain, holder, error, now)
    except Exception:  # the database itself may be what fails
        log.debug("%s watcher: could not record the failure", chain, exc_info=True)
