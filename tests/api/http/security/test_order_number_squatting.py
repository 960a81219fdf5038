"""Finding 10 (issue 12, part): an order number taken through an unsigned
face by a caller trusted for its network alone (no key) must not block, or
be handed to, the merchant's own create with that number."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.http.faces.support import Faces, start_faces
from tests.api.http.security.payments import API_KEY, MERCHANT_NOTIFY, snapshot
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, signed

SQUATTER_CALLBACK = "https://squatter.example/notify"


@pytest.fixture
async def faces(db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(db):
        yield handle


async def test_squatted_order_number_does_not_block_the_merchant(faces: Faces, db: Db) -> None:
    squat = {"bizOrderId": "ORDER-9", "amount": 100, "subject": "x", "callbackUrl": SQUATTER_CALLBACK}
    async with faces.loopback() as trusted_network:  # no key: let in by its address only
        taken = await trusted_network.post("/api/pay/wechat/native", json=squat)
        taken_too = await trusted_network.post(
            "/api/pay/wechat/native", json={**squat, "bizOrderId": "ORDER-11"}
        )
        precreated = await trusted_network.post(
            "/api/precreate", json={"name": "x", "price": "1", "order_no": "ORDER-10"}
        )
    assert taken.status_code == 200 and precreated.status_code == 200, (taken.text, precreated.text)
    squatted = await snapshot(db)
    # The merchant's signed create with the same number is its own new order.
    create = {"pid": MERCHANT_PID, "chain_type": 1, "order_no": "ORDER-9", "amount": "1.00",
              "currency": "CNY", "notify_url": MERCHANT_NOTIFY}  # fmt: skip
    resp = await faces.client.post("/api/pay/create", json=signed(create))
    assert resp.status_code == 200, resp.text
    mine = resp.json()["data"]["plat_order_no"]
    assert mine != str(taken.json()["data"]["orderId"])
    # And so are its keyed creates on the unsigned faces, with its own callback.
    own = {**squat, "bizOrderId": "ORDER-11", "callbackUrl": MERCHANT_NOTIFY}
    keyed = await faces.client.post("/api/pay/wechat/native", json=own, headers=API_KEY)
    assert keyed.status_code == 200, keyed.text
    assert keyed.json()["data"]["orderId"] != taken_too.json()["data"]["orderId"]
    again = await faces.client.post(
        "/api/precreate", json={"name": "x", "price": "1", "order_no": "ORDER-10"}, headers=API_KEY
    )
    assert again.status_code == 200 and again.json()["out_trade_no"] != precreated.json()["out_trade_no"]
    # Signed lookups by the number find the merchant's order, not the squatter's.
    query = await faces.client.get(
        "/api/pay/query", params=signed({"pid": MERCHANT_PID, "order_no": "ORDER-9"})
    )
    assert query.json()["data"]["plat_order_no"] == mine
    # The squatted orders are untouched (still pending, same callback).
    after = await snapshot(db)
    assert set(squatted.orders) <= set(after.orders)
    assert (await faces.order(taken.json()["data"]["orderId"])).notify_url == SQUATTER_CALLBACK
    # A retry from the trusted network still answers its own order (safe retries).
    async with faces.loopback() as trusted_network:
        retried = await trusted_network.post("/api/pay/wechat/native", json=squat)
    assert retried.json()["data"]["orderId"] == taken.json()["data"]["orderId"]
