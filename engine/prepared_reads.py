"""Core SELECTs for hot read paths, run on SQLite's own cursor.

Why: a page poll (/api/check_order) or a merchant's query runs a few small
indexed SELECTs, and SQLAlchemy's execution layer (cache key, execution
context, result metadata, Row objects) costs several times what SQLite
takes to run them. A `PreparedSelect` is still written once as a Core
construct; on SQLite's sync driver it is compiled once per dialect, run on
the driver cursor, and every value goes through its type's own SQLAlchemy
processor both ways, so the rows hold exactly what SQLAlchemy would give
(aware UTC datetimes, booleans, decoded JSON). Elsewhere (PostgreSQL,
SQLite through the async driver) it runs through SQLAlchemy as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

Processor = Callable[[Any], Any] | None
_REQUIRED = object()  # a bind parameter the caller must give


class PreparedSelect:
    """A SELECT whose rows come back as dicts keyed by the selected columns'
    keys. Its bind parameters are named ones given per call, or values fixed
    in the statement (literals, LIMIT); `in_()` of a list is refused (its
    SQL depends on the list), a list of `literal()`s is fine."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._columns = [(str(column.key), column.type) for column in statement.selected_columns]
        self._keys = tuple(key for key, _ in self._columns)
        # Planned on first use on SQLite (engine.work's connections are sync pysqlite):
        self._sql = ""
        # per parameter, in order: its name, its fixed value (or _REQUIRED), its bind processor;
        self._binds: tuple[tuple[str, Any, Processor], ...] = ()
        # the columns whose type converts what SQLite returns: position, processor.
        self._processed: tuple[tuple[int, Callable[[Any], Any]], ...] = ()

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if conn.dialect.driver != "pysqlite":  # PostgreSQL, or aiosqlite's async connection
            return [dict(row) for row in conn.execute(self.statement, dict(params)).mappings()]
        keys = self._keys
        return [dict(zip(keys, values, strict=True)) for values in self._sqlite_rows(conn, params)]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row (for a statement that selects one at most), or None."""
        rows = self.all(conn, params)
        return rows[0] if rows else None

    def first_values(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row's values in the order selected, or None: `first`
        without the dict, for a caller that builds its own record from them."""
        if conn.dialect.driver != "pysqlite":
            row = conn.execute(self.statement, dict(params)).first()
            return None if row is None else tuple(row)
        rows = self._sqlite_rows(conn, params)
        return rows[0] if rows else None

    def _sqlite_rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if not self._sql:
            self._plan(conn.dialect)
        values = [_bind_value(params, name, fixed, process) for name, fixed, process in self._binds]
        # pysqlite's DBAPI connection is the driver's own (no adapter): its
        # execute() makes the cursor, which is finished once fetchall() returns.
        driver: sqlite3.Connection = conn.connection.dbapi_connection  # type: ignore[assignment]
        try:
            rows: list[tuple[Any, ...]] = driver.execute(self._sql, values).fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(self._sql, values, exc, sqlite3.Error) from exc
        if not self._processed:
            return rows
        return [self._processed_row(row) for row in rows]

    def _processed_row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(raw)
        for i, process in self._processed:
            values[i] = process(values[i])
        return tuple(values)

    def _plan(self, dialect: Dialect) -> None:
        compiled = self.statement.compile(dialect=dialect)
        binds = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"{name}: an expanding IN cannot be prepared; use a list of literal()s")
            fixed = _REQUIRED if bind.required else bind.effective_value
            binds.append((name, fixed, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        self._binds = tuple(binds)
        processors = [t.dialect_impl(dialect).result_processor(dialect, None) for _, t in self._columns]
        self._processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        self._sql = str(compiled)


def _bind_value(params: Mapping[str, Any], name: str, fixed: Any, process: Processor) -> Any:
    value = params[name] if fixed is _REQUIRED else params.get(name, fixed)
    return value if process is None else process(value)
