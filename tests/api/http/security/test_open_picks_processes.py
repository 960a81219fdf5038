"""Finding 3's per-source cap on live open picks holds across processes.

Two `usdtpay serve` processes share one database; one source asks both at
once for a USDT amount on more open orders than it may hold. The count and
the reservation happen under the source's lock (a PostgreSQL advisory lock;
SQLite's single writer), so exactly the cap passes, however the requests
interleave. Without the lock, PostgreSQL let concurrent picks all pass the
count."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from engine.models import Order, Reservation
from tests.api.http.security.support import served
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets

pytestmark = pytest.mark.timeout(180)

CAP, ORDERS = 4, 16


async def open_orders(base_url: str, count: int) -> list[str]:
    """Orders created by network alone (loopback is trusted, no key)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        body = {"name": "x", "price": "1.00"}
        answers = [await client.post("/api/precreate", json=body) for _ in range(count)]
    assert all(a.status_code == 200 for a in answers), answers[0].text
    return [str(a.json()["out_trade_no"]) for a in answers]


async def pick_all(base_urls: list[str], order_ids: list[str]) -> list[int]:
    """Every pick at once, alternating between the processes."""
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in base_urls]
    bodies = [{"orderId": oid, "type": "usdt_trc20"} for oid in order_ids]
    try:
        answers = await asyncio.gather(
            *(clients[n % len(clients)].post("/api/get_pay_params", json=b) for n, b in enumerate(bodies))
        )
    finally:
        for client in clients:
            await client.aclose()
    return [a.status_code for a in answers]


async def test_one_source_cannot_pass_the_cap_through_two_processes(any_db: Db, tmp_path: Path) -> None:
    await make_merchant(any_db)
    await make_wallets(any_db, "tron", 2)
    env = {"USDTPAY_ORDERS__OPEN_PICKS_PER_SOURCE": str(CAP), "USDTPAY_LOG_JSON": "false"}
    with served(any_db, tmp_path / "a.log", **env) as one, served(any_db, tmp_path / "b.log", **env) as two:
        order_ids = await open_orders(one.base_url, ORDERS)
        statuses = await pick_all([one.base_url, two.base_url], order_ids)
    assert sorted(statuses) == [200] * CAP + [429] * (ORDERS - CAP), statuses
    async with any_db.sessions() as session:
        held = await session.scalar(
            select(func.count())
            .select_from(Reservation)
            .join(Order, Order.id == Reservation.order_id)
            .where(Order.picked_by == "127.0.0.1")
        )
    assert held == CAP
