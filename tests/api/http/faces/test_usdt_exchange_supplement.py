"""Supplement of type 2 orders by each exchange's identifiers (seed 004:
OKX order number / reference number, Binance transaction id, HTX
blockchain tx id), verified at the exchange simulator; every failed check
answers 422 with its own `data.reason`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.clock import ManualClock
from tests.dbharness import Db
from tests.factories import make_merchant, signed
from tests.integration.engine.exchanges.support import (
    Sims,
    add_account,
    credentials,
    running_sims,
    settings_for,
)

PLATS = {"okx": "OKX", "binance": "BINANCE", "htx": "HTX"}


@pytest.fixture
def sims() -> Iterator[Sims]:
    with running_sims() as running:
        yield running


@pytest.fixture
async def client(db: Db, sims: Sims) -> AsyncIterator[tuple[AsyncTestClient, ManualClock]]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    settings = settings_for(db, sims)
    await make_merchant(db)
    for exchange in PLATS:
        await add_account(
            db, settings, exchange, credentials(sims, exchange), clock.now() - timedelta(hours=1)
        )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as c:
        yield c, clock


async def create(client: AsyncTestClient, exchange: str, order_no: str) -> str:
    amount: str = (await created(client, exchange, order_no))["amount"]
    return amount


async def created(client: AsyncTestClient, exchange: str, order_no: str) -> dict[str, Any]:
    fields = {
        "pid": "10001",
        "order_no": order_no,
        "amount": "30",
        "currency": "USDT",
        "type": 2,
        "plat": PLATS[exchange],
        "notify_url": "https://example.com/notify",
    }
    resp = await client.post("/api/pay/create", json=signed(fields))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def supplement(client: AsyncTestClient, order_no: str, hash_: str, p_addr: str = "") -> dict[str, Any]:
    fields = {"pid": "10001", "order_no": order_no, "hash": hash_}
    if p_addr:
        fields["p_addr"] = p_addr
    resp = await client.post("/api/pay/supplement", json=signed(fields))
    body: dict[str, Any] = resp.json()
    assert resp.status_code == body["code"]
    return body


def record(sims: Sims, exchange: str, amount: str, when: datetime, **kind: Any) -> tuple[str, str]:
    """A record at the exchange; returns (hash, p_addr) as the payer would give them."""
    if exchange == "okx":
        row = sims.okx.add_deposit(amt=amount, ts=when, **kind)
        return row["fromWdId"], row["depId"]  # the sender's order number, the deposit's reference
    if exchange == "binance":
        if kind.pop("pay", False):
            return sims.binance.add_pay(amount=amount, when=when, **kind)["transactionId"], ""
        dep = sims.binance.add_deposit(amount=amount, insert=when, **kind)
        return dep["txId"].removeprefix("Internal transfer "), ""
    row = sims.htx.add_deposit(amount=amount, created=when, **kind)
    return "0x" + row["tx-hash"], ""


@pytest.mark.parametrize(
    ("exchange", "kind"), [("okx", {}), ("binance", {}), ("binance", {"pay": True}), ("htx", {})]
)
async def test_supplement_by_the_exchange_ids_settles_and_a_retry_answers_the_same(
    client: tuple[AsyncTestClient, ManualClock], sims: Sims, exchange: str, kind: dict[str, Any]
) -> None:
    c, clock = client
    amount = await create(c, exchange, "S-1")
    hash_, p_addr = record(sims, exchange, amount, clock.advance(minutes=3), **kind)
    clock.advance(minutes=1)
    first = await supplement(c, "S-1", hash_, p_addr)
    assert first["code"] == 200 and first["data"]["status"] == "paid", first
    assert first["data"]["u_type"] == PLATS[exchange]
    again = await supplement(c, "S-1", hash_, p_addr)
    assert again["code"] == 200 and again["data"]["status"] == "paid"


def bad_state(exchange: str) -> dict[str, Any]:
    return {"okx": {"state": "0"}, "binance": {"status": 0}, "htx": {"state": "confirming"}}[exchange]


def other_coin(exchange: str) -> dict[str, Any]:
    return {"okx": {"ccy": "USDC"}, "binance": {"coin": "USDC"}, "htx": {"currency": "usdc"}}[exchange]


@pytest.mark.parametrize("exchange", list(PLATS))
async def test_each_failed_check_has_its_reason(
    client: tuple[AsyncTestClient, ManualClock], sims: Sims, exchange: str
) -> None:
    c, clock = client
    amounts = [await create(c, exchange, f"F-{i}") for i in range(7)]
    at = clock.advance(minutes=2)
    cases = {
        "record_not_found": ("F-0", ("999999999", "")),
        "wrong_currency": ("F-1", record(sims, exchange, amounts[1], at, **other_coin(exchange))),
        "record_not_final": ("F-2", record(sims, exchange, amounts[2], at, **bad_state(exchange))),
        "amount_differs": ("F-3", record(sims, exchange, "30.5", at)),
        "tx_too_late": ("F-4", record(sims, exchange, amounts[4], at + timedelta(minutes=90))),
    }
    paying = record(sims, exchange, amounts[5], at)
    clock.advance(minutes=100)
    assert (await supplement(c, "F-5", *paying))["data"]["status"] == "paid"
    cases["hash_used"] = ("F-6", paying)
    cases["order_already_paid"] = ("F-5", record(sims, exchange, amounts[5], at))
    got = {}
    for reason, (order_no, ids) in cases.items():
        body = await supplement(c, order_no, *ids)
        assert body["code"] == 422, body
        got[reason] = body["data"]["reason"]
    assert got == {reason: reason for reason in cases}


async def i_have_paid(client: AsyncTestClient, order_id: str, ref: str) -> tuple[int, dict[str, Any]]:
    """The cashier page's "I have paid" with the one identifier it asks for."""
    resp = await client.post("/api/cashier/paid", json={"orderId": order_id, "hash": ref})
    body: dict[str, Any] = resp.json()
    return resp.status_code, body


@pytest.mark.parametrize(
    ("exchange", "kind"), [("okx", {}), ("binance", {}), ("binance", {"pay": True}), ("htx", {})]
)
async def test_the_cashier_checks_the_exchange_identifier_like_the_supplement(
    client: tuple[AsyncTestClient, ManualClock], sims: Sims, exchange: str, kind: dict[str, Any]
) -> None:
    c, clock = client
    order = await created(c, exchange, "P-1")
    ref, _ = record(sims, exchange, order["amount"], clock.advance(minutes=3), **kind)
    clock.advance(minutes=1)
    status, body = await i_have_paid(c, order["plat_order_no"], ref)
    assert (status, body["status"], body["msg_zh"]) == (200, 1, "支付成功"), body
    assert (await supplement(c, "P-1", ref))["data"]["status"] == "paid"  # the same settlement


async def test_the_cashier_says_why_an_exchange_identifier_does_not_pay(
    client: tuple[AsyncTestClient, ManualClock], sims: Sims
) -> None:
    c, clock = client
    order = await created(c, "okx", "P-2")
    order_id = order["plat_order_no"]
    short, _ = record(sims, "okx", "30.5", clock.advance(minutes=2))
    clock.advance(minutes=1)
    status, body = await i_have_paid(c, order_id, "999999999")
    assert (status, body["code"]) == (422, "record_not_found")
    assert "欧易订单号" in body["msg_zh"] and "OKX order number" in body["msg_en"]
    status, body = await i_have_paid(c, order_id, short)
    assert (status, body["code"]) == (422, "amount_differs")
    assert order["amount"] in body["msg_zh"] and f"({order['amount']} USDT)" in body["msg_en"]
    status, body = await i_have_paid(c, order_id, "<img src=x>")
    assert (status, body["code"]) == (422, "bad_reference") and "OKX" in body["msg_en"]
    assert sims.okx.counts["/api/v5/asset/deposit-history"] > 0


async def test_cashier_checks_are_limited_per_receiving_account(
    client: tuple[AsyncTestClient, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.http.faces import payer_exchange

    monkeypatch.setattr(payer_exchange, "ACCOUNT_CHECKS_PER_MINUTE", 2)
    c, _ = client
    orders = [(await created(c, "htx", f"L-{i}"))["plat_order_no"] for i in range(3)]
    answers = [(await i_have_paid(c, order_id, "ab" * 32))[0] for order_id in orders]
    assert answers == [422, 422, 429]  # neither the source's nor an order's limit is reached
