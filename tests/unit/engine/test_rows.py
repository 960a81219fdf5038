"""engine.rows: the plain statements `usdtpay status` reads with (issue 15)
are spelled and bound the same way over aiosqlite and over a session, and
give the values the models' column types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.rows import (
    PostgresRows,
    SessionRows,
    SqliteRows,
    Unreadable,
    prepared,
    reading,
    utc,
    utc_required,
)
from tests.dbharness import Db

MOMENT = datetime(2026, 12, 1, 12, 0, 5, 120, tzinfo=timezone(timedelta(hours=8)))


def test_a_list_parameter_is_spelled_out_and_an_empty_one_matches_nothing() -> None:
    sql, values = prepared("sqlite", "SELECT 1 WHERE a IN (:ids) AND b = :b", {"ids": [3, 4], "b": "x"})
    assert sql == "SELECT 1 WHERE a IN (:ids_0, :ids_1) AND b = :b"
    assert values == {"ids_0": 3, "ids_1": 4, "b": "x"}
    sql, values = prepared("postgresql", "SELECT 1 WHERE a IN (:ids)", {"ids": []})
    assert (sql, values) == ("SELECT 1 WHERE a IN (NULL)", {})


def test_casts_and_times_in_text_are_not_parameters() -> None:
    sql, values = prepared("postgresql", "SELECT '12:30', x::text FROM t WHERE y = :y", {"y": 1})
    assert sql == "SELECT '12:30', x::text FROM t WHERE y = :y" and values == {"y": 1}


def test_a_time_is_bound_as_the_models_store_it() -> None:
    _, on_sqlite = prepared("sqlite", "SELECT :at", {"at": MOMENT})
    _, on_postgres = prepared("postgresql", "SELECT :at", {"at": MOMENT})
    # SQLAlchemy's SQLite DATETIME text of the UTC time, microseconds always written.
    assert on_sqlite == {"at": "2026-12-01 04:00:05.000120"}
    assert on_postgres == {"at": MOMENT} and on_postgres["at"].tzinfo == UTC


def test_stored_times_read_back_as_aware_utc() -> None:
    assert utc("2026-12-01 04:00:05.000120") == MOMENT
    assert utc("2026-12-01 04:00:05") == MOMENT.replace(microsecond=0)
    assert utc_required(MOMENT).tzinfo == UTC and utc(MOMENT) == MOMENT
    assert utc(None) is None
    with pytest.raises(TypeError):
        utc_required(None)


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("sqlite+aiosqlite:///{dir}/a.db", True),
        ("sqlite+aiosqlite:///{dir}/a.db?timeout=5", False),  # options: SQLAlchemy knows their forms
        ("sqlite+aiosqlite:///{dir}/a%20b.db", False),  # quoted: SQLAlchemy decodes it
    ],
)
async def test_only_a_plain_sqlite_file_skips_sqlalchemy(url: str, plain: bool, tmp_path: Path) -> None:
    async with reading(url.format(dir=tmp_path)) as rows:
        assert isinstance(rows, SqliteRows if plain else SessionRows)
        assert await rows.fetch("SELECT :n + 1", {"n": 1}) == [(2,)]


async def test_the_drivers_own_rows_read_a_plain_url_of_either_database(any_db: Db) -> None:
    async with reading(any_db.url) as rows:
        assert isinstance(rows, SqliteRows if any_db.backend == "sqlite" else PostgresRows)
        # One name twice, a list and a time: numbered once each for asyncpg.
        found = await rows.fetch(
            "SELECT :n + 1, :n, COUNT(*) FROM orders WHERE status IN (:s) AND created_at <= :at",
            {"n": 1, "s": ["paid", "pending"], "at": MOMENT},
        )
        assert found == [(2, 1, 0)]


async def test_a_missing_table_is_unreadable_with_the_drivers_message(any_db: Db) -> None:
    with pytest.raises(Unreadable, match="chain_cursor_typo"):
        async with reading(any_db.url) as rows:
            await rows.fetch("SELECT * FROM chain_cursor_typo")
