"""Plain SQL for the reads that must not load SQLAlchemy (`usdtpay status`,
issue 15: importing SQLAlchemy and its ORM cost more than the whole start-up
budget), with one text for SQLite and PostgreSQL.

A `Rows` runs such a statement and hands back the driver's own values: over
an AsyncSession (SessionRows: the server's reads, and a command given a URL
with options) or straight over the driver (SqliteRows: aiosqlite;
PostgresRows: asyncpg). All prepare the parameters here and the readers
convert the values with `utc` / `flag` / `json_value`, so every way sees the
same values; the conversions are those of the models' column types
(engine.models.base.UTCDateTime, SQLAlchemy's SQLite DATETIME text, its JSON
type)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Params = Mapping[str, object]
_BIND = re.compile(r"(?<![:\w]):(\w+)")
# sqlite+aiosqlite:///PATH and postgresql+asyncpg://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE
# are read with the driver alone; a URL with options or quoting, a memory
# database, another driver goes through SQLAlchemy, which knows their forms.
_PLAIN_SQLITE = re.compile(r"sqlite\+aiosqlite:///(?P<path>[^?%]+)")
_PLAIN_POSTGRES = re.compile(
    r"postgresql\+asyncpg://(?:(?P<user>[^:@/?%]+)(?::(?P<password>[^@/?%]*))?@)?"
    r"(?P<host>[\w.-]+)(?::(?P<port>\d+))?/(?P<database>[^/?%]+)"
)


class Unreadable(Exception):
    """The database did not answer a read (missing file or table, refused
    connection); `reason` is the driver's own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Rows(Protocol):
    dialect: str  # "sqlite" or "postgresql"

    async def fetch(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Every row of `sql`; `:name` parameters, a list one stands for its items."""
        ...


def stored_time(dialect: str, moment: datetime) -> object:
    """A UTC time as a parameter: SQLite compares the naive text the models
    store (SQLAlchemy's DATETIME form, microseconds always written)."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds") if dialect == "sqlite" else moment


def prepared(dialect: str, sql: str, params: Params | None) -> tuple[str, dict[str, object]]:
    """`sql` with each list parameter spelled out (`:ids` → `:ids_0, :ids_1`;
    an empty list matches nothing) and times in the stored form."""
    given = dict(params or {})
    values: dict[str, object] = {}

    def spell(match: re.Match[str]) -> str:
        name = match.group(1)
        value = given[name]
        if not isinstance(value, list | tuple):
            values[name] = stored_time(dialect, value) if isinstance(value, datetime) else value
            return match.group(0)
        names = [f"{name}_{i}" for i in range(len(value))]
        values.update(zip(names, value, strict=True))
        return ", ".join(f":{n}" for n in names) or "NULL"

    return _BIND.sub(spell, sql), values


def utc(value: object) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite: text; PostgreSQL: a datetime)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"not a stored time: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_required(value: object) -> datetime:
    """A NOT NULL column's time."""
    moment = utc(value)
    if moment is None:
        raise TypeError("a NOT NULL time read as NULL")
    return moment


def flag(value: object) -> bool:
    return bool(value)  # SQLite stores booleans as 0 / 1


def json_value(value: object) -> Any:
    """A JSON column: text from either driver, decoded as the JSON type does."""
    return json.loads(value) if isinstance(value, str | bytes) else value


class SessionRows:
    """Plain statements inside an AsyncSession's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    async def fetch(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        statement, values = prepared(self.dialect, sql, params)
        return [tuple(row) for row in await self.session.execute(text(statement), values)]


class SqliteRows:
    """Plain statements over one aiosqlite connection, in one read
    transaction (a consistent snapshot that takes no write lock)."""

    dialect = "sqlite"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        statement, values = prepared(self.dialect, sql, params)
        async with self.connection.execute(statement, values) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


def rows_of(source: AsyncSession | Rows) -> Rows:
    return source if isinstance(source, Rows) else SessionRows(source)


class PostgresRows:
    """Plain statements over one asyncpg connection (`:name` numbered as
    `$n`), in one read-only repeatable-read transaction: a consistent snapshot."""

    dialect = "postgresql"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        statement, values = prepared(self.dialect, sql, params)
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in order:
                order.append(match.group(1))
            return f"${order.index(match.group(1)) + 1}"

        numbered = _BIND.sub(number, statement)
        return [tuple(row) for row in await self.connection.fetch(numbered, *(values[n] for n in order))]


@asynccontextmanager
async def reading(url: str) -> AsyncIterator[Rows]:
    """Rows over the database at `url`, for one command's reads; a driver
    error inside raises Unreadable."""
    sqlite, postgres = _PLAIN_SQLITE.fullmatch(url), _PLAIN_POSTGRES.fullmatch(url)
    if sqlite is not None and sqlite["path"] != ":memory:":
        opened = _sqlite_rows(sqlite["path"])
    elif postgres is not None:
        opened = _postgres_rows({k: v for k, v in postgres.groupdict().items() if v is not None})
    else:
        opened = _session_rows(url)
    async with opened as rows:
        yield rows


@asynccontextmanager
async def _sqlite_rows(path: str) -> AsyncIterator[Rows]:
    import sqlite3

    import aiosqlite

    await asyncio.to_thread(_make_folder, path)
    try:
        # timeout: the busy timeout engine.db sets (30 s), should a checkpoint hold the file.
        async with aiosqlite.connect(path, timeout=30, isolation_level=None) as connection:
            await connection.execute("BEGIN")
            try:
                yield SqliteRows(connection)
            finally:
                await connection.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise Unreadable(str(exc)) from exc


@asynccontextmanager
async def _postgres_rows(parts: dict[str, str]) -> AsyncIterator[Rows]:
    import asyncpg

    # The arguments SQLAlchemy's asyncpg dialect passes for such a URL.
    port = {"port": int(parts.pop("port"))} if "port" in parts else {}
    try:
        connection = await asyncpg.connect(**parts, **port)
        try:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                yield PostgresRows(connection)
        finally:
            await connection.close()
    except asyncpg.PostgresError as exc:
        raise Unreadable(str(exc)) from exc


def _make_folder(path: str) -> None:
    # As engine.db does before connecting, so a missing folder reads as a missing table.
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def _session_rows(url: str) -> AsyncIterator[Rows]:
    from sqlalchemy.exc import DBAPIError

    from engine.db import create_engine, create_session_factory

    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            yield SessionRows(session)
    except DBAPIError as exc:
        raise Unreadable(str(exc.orig)) from exc
    finally:
        await engine.dispose()
