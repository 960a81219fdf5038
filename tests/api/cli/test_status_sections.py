"""`usdtpay status`: the operators' sections (notification backlog, rate,
orders of the last hour) over real rows, through the CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.cli import main
from engine.models import Notification, Order, RateSnapshot
from tests.dbharness import Db
from tests.factories import make_merchant


async def test_status_shows_backlog_rate_and_orders(
    db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    merchant = await make_merchant(db)
    async with db.sessions() as session:

        def order(n: int, status: str, age: timedelta) -> Order:
            created = now - age
            expires = created + timedelta(minutes=30)
            return Order(
                id=n, merchant_id=merchant.id, merchant_order_no=f"S{n}", face="usdt", currency="USDT",
                status=status, created_at=created, expires_at=expires, extra={},
            )  # fmt: skip

        for i, status in enumerate(["pending", "pending", "paid", "expired"]):
            session.add(order(900 + i, status, timedelta(minutes=5)))
        session.add(order(990, "paid", timedelta(hours=3)))  # outside the last hour
        for i, (status, due) in enumerate(
            [("pending", 300), ("pending", -60), ("failed", 0), ("delivered", 0)]
        ):
            session.add(
                Notification(delivery_id=f"d{i}", order_id=900, merchant_id=merchant.id, scheme="usdt",
                             url="http://127.0.0.1/n", body="{}", status=status,
                             next_attempt_at=now - timedelta(seconds=due), created_at=now)
            )  # fmt: skip
        session.add(RateSnapshot(rate="7.21", median="7.21", sources={"okx": "7.21", "binance": "error: 429"},
                                 fetched_at=now - timedelta(seconds=1000)))  # fmt: skip
        await session.commit()
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    assert await asyncio.to_thread(main, ["status"]) == 0
    out = capsys.readouterr().out
    assert "pending 2   due now 1   oldest due 5 min overdue   failed 1" in out
    assert "usdtpay notify list --failed" in out
    assert "CNY per USDT 7.21   age 16 min" in out and "binance: error: 429" in out
    assert "too old to price CNY orders" in out
    assert "4 total   expired 1   paid 1   pending 2" in out


@pytest.mark.parametrize(
    ("variable", "named"),
    [("USDTPAY_RATE_FIXED", "USDTPAY_RATE_FIXED"), ("USDTPAY_RATE__FIXED", "rate.fixed")],
)
async def test_status_names_where_the_fixed_rate_is_set(
    db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, named: str
) -> None:
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    monkeypatch.setenv(variable, "7.20")
    assert await asyncio.to_thread(main, ["status"]) == 0
    assert f"CNY per USDT 7.20   fixed ({named})" in capsys.readouterr().out
