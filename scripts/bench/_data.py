"""Databases and pre-signed requests for the HTTP benchmarks.

Every run gets a fresh database: a SQLite file in a temporary folder, or a
new PostgreSQL database (scripts.scratch_pg: created from the `test`
database, dropped afterwards). Requests are signed here, once, before the
clock starts, with the merchant key, as a merchant's back end would.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text

from engine.addresses import tron_from_bytes
from engine.db import create_engine, create_session_factory
from engine.merchants import add_merchant, add_wallet
from engine.migrate import upgrade
from engine.signing import md5_sign
from scripts import scratch_pg

PID = "10001"
KEY = "bench-merchant-key-0123456789abcdef"


@contextmanager
def fresh_database(backend: str, folder: Path, wallets: int = 5) -> Iterator[str]:
    """A migrated database with the bench merchant and `wallets` TRON
    addresses; yields its URL and removes it afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        asyncio.run(_seed(url, wallets))
        yield url
        return
    with scratch_pg.scratch_database("usdtpay_bench") as url:
        upgrade(url)
        asyncio.run(_seed(url, wallets))
        yield url


async def _seed(url: str, wallets: int) -> None:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            now = datetime.now(UTC)
            await add_merchant(session, PID, KEY, "bench", now)
            for n in range(wallets):
                await add_wallet(session, "tron", tron_from_bytes((1000 + n).to_bytes(20, "big")), now)
            await session.commit()
    finally:
        await engine.dispose()


def order_rows(url: str, limit: int) -> list[tuple[int, str]]:
    """(platform id, merchant order no) of up to `limit` stored orders."""

    async def read() -> list[tuple[int, str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT id, merchant_order_no FROM orders ORDER BY id LIMIT :n"), {"n": limit}
                )
                return [(int(r[0]), str(r[1])) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def order_count(url: str) -> int:
    async def read() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT count(*) FROM orders"))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(read())


# -- requests ----------------------------------------------------------------
def create_bodies(run_id: str, count: int, seed: int = 7) -> list[str]:
    """Signed usdt-face create bodies (POST /api/pay/create), each a new
    order number at a varied price, as a real shop sends them."""
    rnd = random.Random(seed)
    bodies = []
    for n in range(count):
        fields: dict[str, object] = {
            "pid": PID,
            "chain_type": 1,
            "order_no": f"{run_id}-{n}",
            "amount": _yuan(rnd.randint(1000, 99999)),
            "type": 1,
            "currency": "CNY",
            "scanpay": 1,
            # Resolves from /etc/hosts: the notify_url check runs without
            # depending on this machine's DNS.
            "notify_url": "http://localhost:9/notify",
            "param": '{"user_id": "bench"}',
        }
        fields["signature"] = md5_sign(fields, KEY)
        bodies.append(json.dumps(fields, separators=(",", ":")))
    return bodies


def _yuan(fen: int) -> str:
    """Fen as the wire's yuan text ("123.45"), in integers: money is never a float."""
    return f"{fen // 100}.{fen % 100:02d}"


def query_paths(order_nos: list[str]) -> list[str]:
    """Signed GET /api/pay/query paths, one per stored order."""
    paths = []
    for order_no in order_nos:
        fields = {"pid": PID, "order_no": order_no}
        fields["signature"] = md5_sign(fields, KEY)
        paths.append("/api/pay/query?" + urlencode(fields))
    return paths


def cashier_paths(order_ids: list[int], endpoint: str) -> list[str]:
    """The payer page's reads: /api/cashier_info?orderId= or
    /api/check_order?out_trade_no= (no signature: the page is public)."""
    param = {"cashier_info": "orderId", "check_order": "out_trade_no"}[endpoint]
    return [f"/api/{endpoint}?{param}={order_id}" for order_id in order_ids]


def populate(
    base: str, url: str, folder: Path, count: int, *, run_id: str = "fill", chunk_s: float = 5
) -> int:
    """Create `count` orders through the API (wrk, chunks until the database
    holds them); returns the number stored."""
    from scripts.bench._harness import run_wrk, write_lines

    bodies = write_lines(create_bodies(run_id, count, seed=11), folder, f"{run_id}.txt")
    start = order_count(url)
    used = 0
    while used < count:
        part = run_wrk(
            "fill", base + "/api/pay/create", bodies, method="POST", seconds=chunk_s, start=used,
            then_path="/healthz",
        )  # fmt: skip
        if part.errors:
            raise RuntimeError(f"filling the database: {part.errors} errors {part.detail}")
        used += part.lines_sent
    return order_count(url) - start
