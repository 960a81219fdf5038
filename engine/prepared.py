"""Core statements for hot paths, run on SQLite's own cursor.

Why: SQLAlchemy's execution layer costs several times more per statement
than SQLite takes to run a small indexed insert (measured on the create
path: ~280 µs vs ~90 µs per order insert, ~340 µs vs ~3 µs per savepoint).
A `Prepared` statement is still written once as a Core construct; on
SQLite it is compiled once to SQL and executed on the driver cursor with
the values converted the way the column types would (UTC datetimes as
SQLAlchemy's text format, JSON as text, booleans as integers); elsewhere
(PostgreSQL, SQLite through the async driver) it is executed through
SQLAlchemy as usual.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator


def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text of a UTC time (it compares in time order)."""
    global _LAST_TIME
    if value is None:
        return None
    last = _LAST_TIME
    if last[0] is value:
        return last[1]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    v = value if value.tzinfo is UTC else value.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff" (the year always has 4 digits), without the "+00:00".
    text = v.isoformat(" ", "microseconds")[:26]
    _LAST_TIME = (value, text)
    return text


# The last time converted, and its text. A create binds its own "now" three
# times (the slot's hold check twice, the order's created_at); one tuple,
# replaced whole, so a reader on another thread sees a matching pair, and it
# holds its datetime, so `is` cannot match a new object at a reused address.
_LAST_TIME: tuple[datetime | None, str] = (None, "")


def sqlite_json(value: Any) -> str | None:
    """JSON text as SQLAlchemy's JSON type binds it (json.dumps); most
    orders carry an empty `extra`."""
    if value is None:
        return None
    if type(value) is dict and not value:
        return "{}"
    return json.dumps(value)


def sqlite_value(value: Any) -> Any:
    """A Python value as SQLAlchemy's SQLite types store it, by its own type."""
    if isinstance(value, datetime):
        return sqlite_datetime(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return sqlite_json(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


class Prepared:
    """A Core statement with named bind parameters, compiled once per use
    on SQLite. Missing values of an INSERT take the columns' Python defaults."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sql: str | None = None
        # Per parameter, in order: its name, how to convert its value (None:
        # as it is), how to make it when not given.
        self._plan: tuple[tuple[str, Callable[[Any], Any] | None, Callable[[], Any] | None], ...] = ()
        # The hot path, every value given: all of them picked at once (C), then
        # the few that need it converted, by position.
        self._names: frozenset[str] = frozenset()
        self._pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _nothing
        self._conversions: tuple[tuple[int, Callable[[Any], Any]], ...] = ()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Rows iterate as tuples and `rowcount` counts changed rows, on
        either path. Database errors are SQLAlchemy's (IntegrityError, ...)."""
        if conn.dialect.driver != "pysqlite":  # PostgreSQL, or aiosqlite's async connection
            return conn.execute(self.statement, dict(params))
        sql, values = self._sqlite(conn, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return cursor.execute(sql, values)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc

    def _sqlite(self, conn: Connection, params: Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
        if self._sql is None:
            compiled = self.statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            names = tuple(compiled.positiontup or ())
            defaults = _insert_defaults(self.statement, names)
            columns = _insert_columns(self.statement)
            self._plan = tuple(
                (name, _converter(columns.get(name, compiled.binds[name].type)), defaults.get(name))
                for name in names
            )
            self._names = frozenset(names)
            self._pick = _picker(names)
            self._conversions = tuple((i, c) for i, (_, c, _) in enumerate(self._plan) if c is not None)
            self._sql = str(compiled)
        return self._sql, self._values(params)

    def _values(self, params: Mapping[str, Any]) -> list[Any]:
        """Each value given, else its default, converted. Picking the values
        with an itemgetter and converting only those that need it costs a
        third of a comprehension over every parameter (31 on the order insert)."""
        if params.keys() >= self._names:
            values = list(self._pick(params))
        else:
            values = [
                params[name] if name in params else _default(name, default) for name, _, default in self._plan
            ]
        for i, convert in self._conversions:
            values[i] = convert(values[i])
        return values


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of `names` from a mapping, as a tuple (itemgetter gives a
    single name's value bare)."""
    if not names:
        return _nothing
    if len(names) == 1:
        return lambda params: (params[names[0]],)
    return itemgetter(*names)


def _nothing(_params: Mapping[str, Any]) -> tuple[Any, ...]:
    return ()


def _converter(type_: Any) -> Callable[[Any], Any] | None:
    """How a parameter of SQL type `type_` is converted (None: not at all);
    by the value's own type when the SQL type says nothing."""
    impl = type_.impl if isinstance(type_, TypeDecorator) else type_
    if isinstance(impl, DateTime):
        return sqlite_datetime
    if isinstance(impl, Boolean):
        return None  # sqlite3 binds a bool as the integer SQLAlchemy would (it is an int)
    if isinstance(impl, JSON):
        return sqlite_json
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return sqlite_value
    if python_type in (int, str):
        return None
    return sqlite_value


def _insert_columns(statement: Executable) -> dict[str, Any]:
    """An INSERT's column types by parameter name (its binds are the columns)."""
    if not isinstance(statement, Insert):
        return {}
    return {column.key: column.type for column in statement.table.c}


def _insert_defaults(statement: Executable, names: tuple[str, ...]) -> dict[str, Callable[[], Any]]:
    """Per column of an INSERT: how to make the value when none is given
    (the column's scalar or callable default, else NULL)."""
    if not isinstance(statement, Insert):
        return {}
    columns = statement.table.c
    defaults: dict[str, Callable[[], Any]] = {}
    for name in names:
        default: Any = columns[name].default if name in columns else None
        if default is None:
            defaults[name] = _none
        elif default.is_scalar:
            defaults[name] = partial(_given, default.arg)
        elif default.is_callable:
            defaults[name] = partial(default.arg, None)
        else:
            raise ValueError(f"column {name} has a default Prepared cannot compute ({default!r})")
    return defaults


def _default(name: str, default: Callable[[], Any] | None) -> Any:
    if default is None:
        raise KeyError(name)
    return default()


def _none() -> None:
    return None


def _given(value: Any) -> Any:
    return value
