"""Accountants' CSV exports over books built by the real services: a USDT
order settled by `ingest`, a CNY order settled through a channel event, a
pending order and an unmatched transfer."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from engine.chain import ChainTransfer
from engine.clock import ManualClock
from engine.config import TRON_USDT_CONTRACT, Settings
from engine.export import ExportWindow, export_orders, export_settlements
from engine.fiat.service import open_payment, settle_channel_event
from engine.models import Order
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.settlement import ingest, rules_for
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, tron_address

T = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: the local date differs
TX = "c0ffee" * 10 + "beef"


@dataclass(frozen=True)
class PaidEvent:
    out_trade_no: str
    channel_trade_no: str
    amount_fen: int
    status: str = "paid"
    paid_at: datetime | None = T + timedelta(minutes=2)


async def _create(db: Db, settings: Settings, merchant: Any, new: NewOrder) -> Order:
    priced = settings.model_copy(update={"rate_fixed": Decimal("7.20")})
    order, _ = await create_order(db.work, merchant, new, settings=priced, clock=ManualClock(T))
    return order


@pytest.fixture
async def books(db: Db) -> dict[str, Any]:
    settings = Settings(database_url=db.url)
    shop_a = await make_merchant(db, pid="10001")
    shop_b = await make_merchant(db, pid="10002", key="another-merchant-key-0123456789")
    await make_wallets(db, "tron", 1)
    usdt = await _create(
        db, settings, shop_a, NewOrder("usdt", "A-1", Currency.USDT, 12_500_000, chain="tron")
    )
    pending = await _create(
        db, settings, shop_a, NewOrder("usdt", "A-2", Currency.USDT, 3_000_000, chain="tron")
    )
    cny = await _create(db, settings, shop_b, NewOrder("dryad", "B-1", Currency.CNY, 8_800, channel="wechat"))
    assert usdt.address is not None and usdt.usdt_units is not None
    paid = ChainTransfer(
        "tron", TX, 0, 61_000_000, T + timedelta(minutes=1), tron_address(77), usdt.address,
        TRON_USDT_CONTRACT, usdt.usdt_units,
    )  # fmt: skip
    stray = ChainTransfer(
        "tron", "d" * 64, 1, 61_000_010, T + timedelta(minutes=3), tron_address(78), usdt.address,
        TRON_USDT_CONTRACT, 777_000_000,
    )  # fmt: skip
    async with db.sessions() as session:
        await ingest(session, "tron", [paid, stray], T + timedelta(minutes=5), rules_for(settings, "tron"))
        payment = await open_payment(session, cny.id, channel="wechat", client_type="qr", now=T)
        event = PaidEvent(payment.out_trade_no, "4200002026030112345678", 8_800)
        await settle_channel_event(session, event, "wechat", T + timedelta(minutes=2))
        await session.commit()
    return {"db": db, "usdt": usdt, "pending": pending, "cny": cny, "shop_a": shop_a}


async def _export(db: Db, fn: Any, merchant_id: int | None = None) -> list[dict[str, str]]:
    out = io.StringIO()
    window = ExportWindow.of(T - timedelta(hours=1), T + timedelta(hours=1), "Asia/Shanghai", merchant_id)
    async with db.sessions() as session:
        count = await fn(session, out, window)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count
    return rows


async def test_orders_csv(books: dict[str, Any]) -> None:
    rows = {r["merchant_order_no"]: r for r in await _export(books["db"], export_orders)}
    assert set(rows) == {"A-1", "A-2", "B-1"}
    usdt, cny, pending = rows["A-1"], rows["B-1"], rows["A-2"]
    order = books["usdt"]
    assert usdt["platform_order_no"] == str(order.id) and usdt["merchant_pid"] == "10001"
    assert (usdt["status"], usdt["chain"], usdt["channel"]) == ("paid", "tron", "")
    assert usdt["usdt_units"] == str(order.usdt_units) and usdt["paid_units"] == str(order.usdt_units)
    assert Decimal(usdt["usdt"]) * 10**6 == order.usdt_units and usdt["usdt"].startswith("12.5")
    assert usdt["tx_hash"] == TX and usdt["block_number"] == "61000000"
    assert usdt["created_utc"] == "2026-03-01T15:30:00Z"
    assert usdt["created_local"] == "2026-03-01T23:30:00+08:00"
    assert usdt["paid_utc"] == "2026-03-01T15:31:00Z" and usdt["paid_local"] == "2026-03-01T23:31:00+08:00"
    assert (cny["currency"], cny["fiat_fen"], cny["fiat_cny"], cny["rate"]) == ("CNY", "8800", "88.00", "")
    assert cny["channel"] == "wechat" and cny["channel_trade_no"] == "4200002026030112345678"
    assert cny["merchant_pid"] == "10002" and cny["status"] == "paid"
    assert pending["status"] == "pending" and pending["paid_utc"] == "" and pending["tx_hash"] == ""


async def test_settlements_csv(books: dict[str, Any]) -> None:
    rows = await _export(books["db"], export_settlements)
    assert [r["kind"] for r in rows] == ["order_paid", "order_paid", "unmatched_transfer"]
    usdt, cny, stray = rows
    assert (usdt["method"], usdt["reference"], usdt["received_unit"]) == ("tron", TX, "USDT")
    assert usdt["received_units"] == str(books["usdt"].usdt_units)
    assert (cny["method"], cny["reference"], cny["received"], cny["received_unit"]) == (
        "wechat",
        "4200002026030112345678",
        "88.00",
        "CNY",
    )
    assert cny["settled_local"] == "2026-03-01T23:32:00+08:00"
    assert (stray["received"], stray["reference"], stray["log_index"]) == ("777.000000", "d" * 64, "1")
    assert stray["reason"] and stray["merchant_pid"] == ""


async def test_merchant_filter(books: dict[str, Any]) -> None:
    orders = await _export(books["db"], export_orders, books["shop_a"].id)
    assert sorted(r["merchant_order_no"] for r in orders) == ["A-1", "A-2"]
    settlements = await _export(books["db"], export_settlements, books["shop_a"].id)
    assert [r["merchant_order_no"] for r in settlements] == ["A-1"]  # no unmatched rows: no merchant


async def test_cli_writes_the_file(
    books: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USDTPAY_DATABASE_URL", books["db"].url)
    target = tmp_path / "march.csv"
    args = [
        "export",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-02",
        "--merchant",
        "10002",
        "--out",
        str(target),
    ]
    assert await asyncio.to_thread(main, args) == 0
    rows = list(csv.DictReader(target.open()))
    assert [r["merchant_order_no"] for r in rows] == ["B-1"]  # local day 2026-03-01 in Asia/Shanghai
    assert "1 orders rows written" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["export", "--from", "2026-03-01", "--merchant", "nobody"]) == 2
    assert "no merchant 'nobody'" in capsys.readouterr().err
