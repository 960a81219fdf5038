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
    amount: str = resp.json()["data"]["amount"]
    return amount


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
