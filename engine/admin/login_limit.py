"""The console's sign-in limit, counted in the database (issue 18), so it
holds however many processes serve the console.

An attempt takes the locks of its keys (its source, an IPv6 client by its
/64, and its username; engine.db.lock_for_transaction), counts their rows
in the window, and if under the limit writes one row per key and commits:
the attempts are admitted one after another, so exactly `limit` get
through, even all at once. A successful sign-in takes its rows back; a
failed one leaves them (they are the count). A refused attempt writes
nothing, so a flood at the limit does not push the window on.

Services flush; the caller commits `admit` before checking the password.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.admin import queries
from engine.db import lock_for_transaction
from engine.models import AdminLoginAttempt

# Expired rows dropped per attempt: enough to keep up with any flood that
# the limit lets write rows, small enough to cost nothing.
PRUNE_ROWS = 100


def keys_for(source: str, username: str) -> list[str]:
    return sorted({f"ip:{source}"[:80], f"user:{username.lower()}"[:80]})


async def admit(
    session: AsyncSession, keys: list[str], now: datetime, since: datetime, limit: int
) -> list[int] | None:
    """This attempt's rows, or None when a key already holds `limit` rows
    after `since`."""
    for key in keys:  # sorted, so two attempts never wait on each other in a circle
        await lock_for_transaction(session, f"admin-login:{key}")
    await _prune(session, since)
    counts = await queries.login_attempts(session, keys, since)
    if any(count >= limit for count in counts.values()):
        return None
    rows = [AdminLoginAttempt(key=key, at=now) for key in keys]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def _prune(session: AsyncSession, since: datetime) -> None:
    """Drop some rows older than the window; rows another transaction is
    dropping are skipped (PostgreSQL SKIP LOCKED), so pruning never waits."""
    stale = (
        select(AdminLoginAttempt.id)
        .where(AdminLoginAttempt.at <= since)
        .limit(PRUNE_ROWS)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(AdminLoginAttempt).where(AdminLoginAttempt.id.in_(stale.scalar_subquery())))


async def forget(session: AsyncSession, ids: Iterable[int]) -> None:
    await session.execute(delete(AdminLoginAttempt).where(AdminLoginAttempt.id.in_(list(ids))))
    await session.flush()
