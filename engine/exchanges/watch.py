"""One watcher step for one exchange account (invariant 4 for exchanges).

The window is [start, end]: start = the cursor minus an overlap (or the
oldest record still waiting to be final, if older), never before the
look-back bound; end = the cursor plus at most one step window, never
after now. The reader fetches every record in it (all pages) with no
database session open; then the records and the cursor move commit in one
transaction. A reader error moves nothing. Replaying a window is a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.config import ExchangeSettings
from engine.db import SessionFactory, unit_of_work
from engine.exchanges import queries
from engine.exchanges.ingest import ingest_records
from engine.exchanges.ports import ExchangeReader, ExchangeRecord
from engine.models import ExchangeAccount, ExchangeCursor
from engine.settlement import CursorMoved, IngestResult, MatchRules

log = logging.getLogger("usdtpay.watch.exchanges")


@dataclass(frozen=True)
class WatchConfig:
    overlap: timedelta = timedelta(minutes=10)
    step_window: timedelta = timedelta(hours=6)
    max_lookback: timedelta = timedelta(days=30)
    pending: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: ExchangeSettings) -> WatchConfig:
        return cls(
            overlap=timedelta(minutes=settings.overlap_minutes),
            step_window=timedelta(minutes=settings.step_window_minutes),
            max_lookback=timedelta(days=settings.max_lookback_days),
            pending=timedelta(hours=settings.pending_hours),
        )


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    caught_up: bool  # the window reaches now
    clipped: bool = False  # the look-back bound cut a gap off


@dataclass(frozen=True)
class StepResult:
    account_id: int
    window: Window
    records: int
    ingested: IngestResult
    open_since: datetime | None


def plan(cursor: ExchangeCursor | None, account: ExchangeAccount, now: datetime, cfg: WatchConfig) -> Window:
    """The next window to read for `account`."""
    base = cursor.scanned_until if cursor is not None else account.created_at
    start = base - cfg.overlap
    if cursor is not None and cursor.open_since is not None:
        start = min(start, cursor.open_since)
    floor = now - cfg.max_lookback
    clipped = start < floor
    start = max(start, floor)
    end = min(now, max(base, start) + cfg.step_window)
    return Window(start, max(start, end), end >= now, clipped)


def open_since(records: list[ExchangeRecord], now: datetime, cfg: WatchConfig) -> datetime | None:
    """The oldest record that is not final yet and still worth re-reading."""
    waiting = [r.time for r in records if not r.final and r.time >= now - cfg.pending]
    return min(waiting) if waiting else None


async def _advance(
    session: AsyncSession,
    account_id: int,
    before: datetime | None,
    window: Window,
    since: datetime | None,
    count: int,
    now: datetime,
) -> None:
    """Move the cursor, or refuse if another process moved it meanwhile."""
    if before is None:
        session.add(
            ExchangeCursor(
                account_id=account_id,
                scanned_until=window.end,
                open_since=since,
                polls=1,
                records=count,
                last_error=None,
                updated_at=now,
            )
        )
        await session.flush()  # a concurrent first insert fails on the primary key
        return
    moved = await session.execute(
        update(ExchangeCursor)
        .where(ExchangeCursor.account_id == account_id, ExchangeCursor.scanned_until == before)
        .values(
            scanned_until=max(before, window.end),
            open_since=since,
            polls=ExchangeCursor.polls + 1,
            records=ExchangeCursor.records + count,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise CursorMoved(f"exchange account {account_id}: another watcher moved the cursor")


async def watch_step(
    sessions: SessionFactory,
    reader: ExchangeReader,
    account_id: int,
    rules: MatchRules,
    cfg: WatchConfig,
    now: datetime,
) -> StepResult:
    """Read one window of the account and ingest it with the cursor move."""
    async with sessions() as session:
        account = await queries.account_by_id(session, account_id)
        if account is None:
            raise LookupError(f"no exchange account {account_id}")
        cursor = await queries.cursor_of(session, account_id)
        before = cursor.scanned_until if cursor is not None else None
        window = plan(cursor, account, now, cfg)
        uid = account.uid
    if window.clipped:
        log.warning(
            "exchange watcher was away longer than the look-back; older payments need a supplement",
            extra={"account_id": account_id, "from": window.start.isoformat()},
        )
    records = await reader.incoming(window.start, window.end)  # no session open while the exchange is asked
    since = open_since(records, now, cfg)
    async with unit_of_work(sessions) as session:
        result = await ingest_records(session, uid, records, now, rules)
        await _advance(session, account_id, before, window, since, len(records), now)
    if result.matched_orders or result.unmatched:
        log.info(
            "exchange records ingested",
            extra={
                "account_id": account_id,
                "matched": len(result.matched_orders),
                "unmatched": dict(result.unmatched),
                "records": len(records),
            },
        )
    return StepResult(account_id, window, len(records), result, since)


async def record_error(sessions: SessionFactory, account_id: int, error: str) -> None:
    """Keep the last error on the cursor for `usdtpay exchange list` (never a secret: messages only).

    `updated_at` stays the last successful step's time: engine.monitoring
    reports it as the account's last poll that worked."""
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(ExchangeCursor)
            .where(ExchangeCursor.account_id == account_id)
            .values(last_error=error[:512])
        )
