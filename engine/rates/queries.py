"""Reading rate snapshots: the newest one, as a model (refresher, status)
or as a bare row on the create path's Connection (engine.work)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import RateSnapshot

_SNAPSHOTS = cast(Table, RateSnapshot.__table__)
_LATEST_ROW = (
    select(_SNAPSHOTS.c.rate, _SNAPSHOTS.c.fetched_at, _SNAPSHOTS.c.sources)
    .order_by(_SNAPSHOTS.c.fetched_at.desc(), _SNAPSHOTS.c.id.desc())
    .limit(1)
)


async def latest(session: AsyncSession) -> RateSnapshot | None:
    stmt = select(RateSnapshot).order_by(RateSnapshot.fetched_at.desc(), RateSnapshot.id.desc()).limit(1)
    return (await session.scalars(stmt)).one_or_none()


def latest_row(conn: Connection) -> Row[Any, Any, Any] | None:
    """The newest snapshot's rate, fetched_at and sources."""
    return conn.execute(_LATEST_ROW).one_or_none()
