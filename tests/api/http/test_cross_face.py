"""One order, many faces: created through the usdt face, shown by the
checkout, cashier and dryad faces, paid by the settlement engine (as the
watcher would), and reported as paid by every face."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from engine.chain import ChainTransfer
from engine.models import Order
from engine.settlement import rules_for
from engine.settlement.ingest import ingest
from tests.api.http.faces.support import API_KEY, Faces, start_faces
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, signed, tron_address

CREATE = {
    "pid": MERCHANT_PID,
    "chain_type": 1,
    "order_no": "X-FACE-1",
    "amount": "100.00",
    "currency": "CNY",
    "notify_url": "https://93.184.216.34/notify",
}


@pytest.fixture
async def app(any_db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(any_db):
        yield handle


async def views(f: Faces, order_id: str) -> dict[str, dict[str, Any]]:
    checkout = await f.client.post("/api/order/info", json={"order_id": order_id})
    by_merchant_no = await f.client.post(  # by merchant order number: with its key (issue 12)
        "/api/order/status", data={"out_order_id": "X-FACE-1", "pid": MERCHANT_PID}, headers=API_KEY
    )
    cashier = await f.client.get("/api/cashier_info", params={"orderId": order_id})
    check = await f.client.get("/api/check_order", params={"out_trade_no": order_id})
    dryad = await f.client.get(f"/api/pay/orders/{order_id}")
    usdt = await f.client.get("/api/pay/query", params=signed({"pid": MERCHANT_PID, "order_no": "X-FACE-1"}))
    for resp in (checkout, by_merchant_no, cashier, check, dryad, usdt):
        assert resp.status_code == 200, resp.text
    return {
        "checkout": checkout.json(),
        "checkout_status": by_merchant_no.json(),
        "cashier": cashier.json()["data"],
        "check": check.json(),
        "dryad": dryad.json()["data"],
        "usdt": usdt.json()["data"],
    }


async def pay_on_chain(f: Faces, order: Order) -> None:
    assert order.chain == "tron" and order.address and order.usdt_units
    transfer = ChainTransfer(
        chain="tron",
        tx_hash="ab" * 32,
        log_index=0,
        block_number=1000,
        block_time=order.created_at + timedelta(minutes=1),
        from_address=tron_address(999),
        to_address=order.address,
        token_contract=f.state.settings.tron.usdt_contract,
        amount_units=order.usdt_units,
    )
    async with f.db.sessions() as session:
        result = await ingest(session, "tron", [transfer], f.clock.now(), rules_for(f.state.settings, "tron"))
        await session.commit()
    assert result.matched_orders == [order.id]


async def test_one_order_reads_the_same_through_every_face(app: Faces) -> None:
    created = await app.client.post("/api/pay/create", json=signed(CREATE))
    assert created.status_code == 200, created.text
    usdt = created.json()["data"]
    order_id = usdt["plat_order_no"]
    before = await views(app, order_id)
    assert before["checkout"]["order_id"] == order_id and before["checkout"]["out_order_id"] == "X-FACE-1"
    assert before["checkout"]["amount"] == 10000 and before["checkout"]["status"] == 1
    assert (
        before["checkout"]["pay_type"] == "usdt_trc20" and before["checkout"]["usdt_amount"] == usdt["amount"]
    )
    assert before["checkout_status"]["status"] == 1
    assert (before["cashier"]["address"], before["cashier"]["amount"]) == (usdt["u_addr"], usdt["amount"])
    assert (
        before["cashier"]["price"] == "100.00"
        and before["cashier"]["expire_time"] == usdt["expire_time"] * 1000
    )
    assert before["check"]["status"] == 0
    assert before["dryad"]["id"] == int(order_id) and before["dryad"]["status"] == "PENDING"
    assert before["dryad"]["channel"] == "USDT_TRC20" and before["usdt"]["status"] == "pending"
    pay_params = await app.client.post(
        "/api/get_pay_params", json={"orderId": order_id, "type": "usdt_trc20"}
    )
    assert pay_params.json()["data"]["amount"] == usdt["amount"]  # the reservation is not renewed

    await pay_on_chain(app, await app.order(order_id))

    after = await views(app, order_id)
    assert after["checkout"]["status"] == 2 and after["checkout_status"]["status"] == 2
    assert after["cashier"]["status"] == "paid"
    assert (after["check"]["status"], after["check"]["msg"]) == (1, "Paid")
    assert after["dryad"]["status"] == "SUCCEEDED" and after["dryad"]["channelTradeNo"] == "ab" * 32
    assert after["dryad"]["paidAt"] is not None
    assert after["usdt"]["status"] == "paid" and after["usdt"]["paytime"] > 0
