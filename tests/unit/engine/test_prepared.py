"""engine.prepared on SQLite: values bound as SQLAlchemy's own types would
bind them, with every value given (the hot path) or with defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
)
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


def test_each_time_gets_its_own_text_when_times_alternate() -> None:
    # sqlite_datetime remembers the last time it converted: equal times in
    # other objects, and times given in turn, must still each get their text.
    first, second = TIMES[0], TIMES[2]
    again = datetime.fromisoformat(first.isoformat())
    texts = [sqlite_datetime(t) for t in (first, first, second, first, again, second)]
    assert texts == [
        "2026-12-01 11:08:50.123456",
        "2026-12-01 11:08:50.123456",
        "2026-11-30 19:00:00.000005",
        "2026-12-01 11:08:50.123456",
        "2026-12-01 11:08:50.123456",
        "2026-11-30 19:00:00.000005",
    ]


def test_booleans_json_and_times_bind_as_sqlalchemy_binds_them() -> None:
    # The same row written through Prepared and through SQLAlchemy's own
    # execution stores the same values, column by column.
    table = Table(
        "kinds",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("flag", Boolean),
        Column("extra", JSON),
        Column("at", UTCDateTime()),
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    rows = [
        {"flag": True, "extra": {}, "at": TIMES[0]},
        {"flag": False, "extra": {"plat": "OKX", "n": [1, 2]}, "at": TIMES[2]},
        {"flag": None, "extra": [], "at": None},
    ]
    statement = Prepared(insert(table))
    with engine.begin() as conn:
        for n, row in enumerate(rows):
            statement.execute(conn, {"id": n, **row})
            conn.execute(insert(table), {"id": 100 + n, **row})
        stored = conn.exec_driver_sql("SELECT id, flag, extra, at FROM kinds ORDER BY id").all()
    ours, theirs = stored[: len(rows)], stored[len(rows) :]
    assert [r[1:] for r in ours] == [r[1:] for r in theirs]
    assert ours[0][1:] == (1, "{}", "2026-12-01 11:08:50.123456")
