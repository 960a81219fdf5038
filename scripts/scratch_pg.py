"""Scratch PostgreSQL databases for the scripts (the migration check, the
benchmarks): the PostgreSQL the tests use (USDTPAY_TEST_PG_HOST / _PORT,
default 127.0.0.1:5432, trust auth), a new database created from `test`
and dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from engine.db import create_engine

PG_HOST = os.environ.get("USDTPAY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("USDTPAY_TEST_PG_PORT", "5432"))


def reachable(host: str = PG_HOST, port: int = PG_PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def _admin(statement: str, host: str, port: int) -> None:
    # CREATE / DROP DATABASE cannot run inside a transaction.
    admin = create_engine(f"postgresql+asyncpg://postgres@{host}:{port}/test")
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@contextmanager
def scratch_database(prefix: str, host: str = PG_HOST, port: int = PG_PORT) -> Iterator[str]:
    """A new, empty database `<prefix>_<random>`; yields its URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', host, port))
    try:
        yield f"postgresql+asyncpg://postgres@{host}:{port}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', host, port))
