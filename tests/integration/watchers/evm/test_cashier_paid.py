"""The cashier's "I have paid" (POST /api/cashier/paid) against a real anvil
node: a good hash settles the order exactly as the supplement would; each
failed check is said precisely, in both languages; unsigned, so limited."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from engine.config import Settings
from engine.models import Transfer
from tests.dbharness import Db
from tests.factories import eth_address
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.test_erc20_watcher import create_order, query, units

pytestmark = pytest.mark.anvil


async def claim(client: AsyncTestClient, order_id: str, tx: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/cashier/paid", json={"orderId": order_id, "hash": tx})
    body: dict[str, Any] = resp.json()
    return resp.status_code, body


async def test_a_good_hash_settles_the_order(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "C1")
    tx = await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(settings.eth.confirmations)
    status, body = await claim(client, data["plat_order_no"], tx)
    assert status == 200, body
    assert (body["success"], body["status"], body["msg_zh"]) == (True, 1, "支付成功")
    assert (await query(client, "C1"))["status"] == "paid"
    async with shop.sessions() as session:
        [row] = await session.scalars(select(Transfer))
        assert (row.source, row.status, row.tx_hash) == ("supplement", "matched", tx[2:])
    assert (await claim(client, data["plat_order_no"], tx))[0] == 200  # asking again: still paid


async def test_each_refusal_says_precisely_what_is_wrong(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "C2")
    order_id, address, amount = data["plat_order_no"], data["u_addr"], units(data["amount"])
    short = await devchain.pay(address, amount - 1)
    elsewhere = await devchain.pay(eth_address(31337), amount)
    await devchain.mine(settings.eth.confirmations)
    fresh = await devchain.pay(address, amount)  # mined, one confirmation

    status, body = await claim(client, order_id, short)
    assert (status, body["success"], body["code"]) == (422, False, "amount_differs")
    sent = f"{(amount - 1) // 10**6}.{(amount - 1) % 10**6:06d}"
    assert f"这笔转账金额为 {sent} USDT,本订单需要 {data['amount']} USDT。" in body["msg_zh"]
    assert f"This transfer sent {sent} USDT; the order needs {data['amount']} USDT." in body["msg_en"]

    status, body = await claim(client, order_id, elsewhere)
    assert (status, body["code"]) == (422, "wrong_recipient")
    assert eth_address(31337) in body["msg_zh"] and "another address" in body["msg_en"]

    status, body = await claim(client, order_id, fresh)
    needed = settings.eth.confirmations
    assert (status, body["code"]) == (422, "tx_not_final")
    assert f"(1 / {needed})" in body["msg_zh"] and f"Not final yet (1 / {needed})" in body["msg_en"]

    status, body = await claim(client, order_id, "0x" + secrets.token_hex(32))
    assert (status, body["code"]) == (422, "tx_not_found")
    status, body = await claim(client, order_id, "0x1234")
    assert (status, body["code"]) == (422, "bad_hash") and "64" in body["msg_zh"]
    assert (await query(client, "C2"))["status"] == "pending"


async def test_checks_are_limited_per_order_and_per_source(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    first = await create_order(client, "C3")
    second = await create_order(client, "C4")
    random_hash = "0x" + secrets.token_hex(32)
    answers = [(await claim(client, first["plat_order_no"], random_hash))[0] for _ in range(6)]
    assert answers == [422] * 5 + [429]
    status, body = await claim(client, second["plat_order_no"], random_hash)
    assert (status, body["code"]) == (429, "too_many_requests")  # same source, other order
    assert body["msg_zh"] == "查询过于频繁,请一分钟后再试。"
