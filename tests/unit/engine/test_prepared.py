"""engine.prepared on SQLite: values bound as SQLAlchemy's own types would
bind them, with every value given (the hot path) or with defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, insert, select
from sqlalchemy.dialects import sqlite

from engine.models.base import UTCDateTime
from engine.prepared import Prepared, sqlite_datetime

TIMES = [
    datetime(2026, 12, 1, 11, 8, 50, 123456, tzinfo=UTC),
    datetime(2026, 12, 1, 11, 8, 50, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 12, 1, 3, 0, 0, 5, tzinfo=timezone(timedelta(hours=8))),  # converted to UTC
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a four-digit year
    datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the day before in UTC
]


@pytest.mark.parametrize("value", TIMES)
def test_datetime_text_is_what_sqlalchemy_binds(value: datetime) -> None:
    dialect = sqlite.dialect()
    column_type = UTCDateTime()
    naive = column_type.process_bind_param(value, dialect)
    expected = sqlite.DATETIME().bind_processor(dialect)(naive)  # type: ignore[misc]
    assert sqlite_datetime(value) == expected


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 12, 1))


def _table() -> Table:
    return Table(
        "things",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(20), default="unnamed"),
        Column("at", UTCDateTime()),
    )


def test_insert_with_every_value_and_with_defaults() -> None:
    table = _table()
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    statement = Prepared(insert(table))
    with engine.begin() as conn:
        statement.execute(conn, {"id": 1, "name": "given", "at": TIMES[2]})
        statement.execute(conn, {"id": 2})  # name from its default, at NULL
        rows = conn.execute(table.select().order_by(table.c.id)).all()
    assert rows == [(1, "given", TIMES[2].astimezone(UTC)), (2, "unnamed", None)]


def test_a_value_missing_without_a_default_is_an_error() -> None:
    table = _table()
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    statement = Prepared(
        select(table.c.id).where(table.c.name == bindparam("name"), table.c.id > bindparam("low"))
    )
    with engine.begin() as conn:
        assert list(statement.execute(conn, {"name": "x", "low": 0})) == []
        with pytest.raises(KeyError):
            statement.execute(conn, {"name": "x"})
