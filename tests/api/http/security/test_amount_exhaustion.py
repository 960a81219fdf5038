"""Finding 3 (issue 12): nobody can hold every unique amount near a price.

An attacker on a trusted network creates orders at will (unsigned precreate)
and has their USDT amounts reserved through the anonymous get_pay_params.
Such picks are capped per source (IPv4 address, IPv6 /64) and in all, so the
merchant's own orders keep getting amounts; a refused pick changes nothing,
and an amount once shown keeps its reservation until expiry plus the late
window (invariant 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine.config import ApiSettings, OrderSettings
from engine.models import Order, Reservation
from tests.api.http.faces.support import Faces, start_faces
from tests.api.http.security.payments import API_KEY, MERCHANT_NOTIFY, snapshot
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, signed

pytestmark = pytest.mark.timeout(120)

SLOTS = 40  # per address; the app has two TRON addresses: 80 amounts near a price
TERMS = OrderSettings(offset_slots=SLOTS, open_picks_per_source=10, open_picks_share_percent=50)


@pytest.fixture
async def faces(db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(db, orders=TERMS):
        yield handle


def from_ip(f: Faces, ip: str) -> httpx.AsyncClient:
    """A client whose requests come from `ip` (the direct peer, no proxy)."""
    transport = httpx.ASGITransport(app=f.app, client=(ip, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://usdtpay.test")


async def open_order(f: Faces) -> str:
    """An order created by network alone: no key, from the trusted network."""
    async with f.loopback() as trusted:
        resp = await trusted.post("/api/precreate", json={"name": "x", "price": "1.00"})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["out_trade_no"])


async def pick(f: Faces, ip: str, order_id: str, pay_type: str = "usdt_trc20") -> httpx.Response:
    async with from_ip(f, ip) as client:
        return await client.post("/api/get_pay_params", json={"orderId": order_id, "type": pay_type})


async def reservations(db: Db) -> list[Reservation]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Reservation).order_by(Reservation.id)))


async def test_open_picks_are_capped_and_merchants_still_get_amounts(faces: Faces, db: Db) -> None:
    orders = [await open_order(faces) for _ in range(24)]
    # One IPv4 source: ten amounts, then refused with nothing changed.
    for order_id in orders[:10]:
        assert (await pick(faces, "203.0.113.1", order_id)).status_code == 200
    before = await snapshot(db)
    refused = await pick(faces, "203.0.113.1", orders[10])
    assert refused.status_code == 429 and refused.json()["success"] is False, refused.text
    assert await snapshot(db) == before
    # One IPv6 subscriber is its whole /64, whatever address it uses.
    for n, order_id in enumerate(orders[10:20]):
        assert (await pick(faces, f"2001:db8:1::{n + 1:x}", order_id)).status_code == 200
    assert (await pick(faces, "2001:db8:1::ffff", orders[20])).status_code == 429
    # All open picks together hold at most half the slots of one address.
    before = await snapshot(db)
    for n, order_id in enumerate(orders[20:24]):
        resp = await pick(faces, f"198.51.100.{n + 1}", order_id)
        assert resp.status_code == 422 and resp.json()["success"] is False, resp.text
    assert await snapshot(db) == before
    assert len(before.reservations) == 20
    # The merchant's own orders at the same price still get unique amounts.
    amounts: set[tuple[str, str]] = set()
    for n in range(30):
        create = {"pid": MERCHANT_PID, "chain_type": 1, "order_no": f"SIGNED-{n}", "amount": "1.00",
                  "currency": "CNY", "notify_url": MERCHANT_NOTIFY}  # fmt: skip
        resp = await faces.client.post("/api/pay/create", json=signed(create))
        assert resp.status_code == 200, resp.text
        amounts.add((resp.json()["data"]["u_addr"], resp.json()["data"]["amount"]))
    assert len(amounts) == 30
    # So does a payer of a merchant's keyed cashier order, even from a capped source.
    keyed = await faces.client.post("/api/precreate", json={"name": "x", "price": "1.00"}, headers=API_KEY)
    assert (await pick(faces, "203.0.113.1", keyed.json()["out_trade_no"])).status_code == 200


async def test_one_reservation_per_order_held_through_the_late_window(faces: Faces, db: Db) -> None:
    order_id = await open_order(faces)
    first = await pick(faces, "203.0.113.9", order_id)
    assert first.status_code == 200, first.text
    # Asking again (any source) answers the same amount; the other chain is refused.
    again = await pick(faces, "203.0.113.10", order_id)
    assert again.json()["data"]["amount"] == first.json()["data"]["amount"]
    before = await snapshot(db)
    assert (await pick(faces, "203.0.113.9", order_id, "usdt_erc20")).status_code == 400
    assert await snapshot(db) == before
    [held] = await reservations(db)
    order = await faces.order(order_id)
    assert held.order_id == order.id and held.held_until == order.expires_at + timedelta(minutes=30)
    assert order.picked_by == "203.0.113.9"  # counted once, for the first asker
    # Past its expiry the amount shown stays held (and answered) for the late window.
    faces.clock.advance(minutes=TERMS.expire_minutes + 1)
    late = await pick(faces, "203.0.113.9", order_id)
    assert late.json()["data"]["amount"] == first.json()["data"]["amount"]
    assert [(r.order_id, r.held_until) for r in await reservations(db)] == [(order.id, held.held_until)]


async def test_dryad_unsigned_creates_reserve_nothing(faces: Faces, db: Db) -> None:
    async with faces.loopback() as trusted:
        for n in range(5):
            body: dict[str, Any] = {"bizOrderId": f"D-{n}", "amount": 100, "subject": "x",
                                    "callbackUrl": MERCHANT_NOTIFY}  # fmt: skip
            assert (await trusted.post("/api/pay/wechat/native", json=body)).status_code == 200
    assert not await reservations(db)
    async with db.sessions() as session:
        assert all(o.chain is None for o in await session.scalars(select(Order)))


async def test_get_pay_params_is_rate_limited(db: Db) -> None:
    async for f in start_faces(db, orders=TERMS, api=ApiSettings(rate_limit_per_minute=5)):
        order_id = await open_order(f)
        answers = [(await pick(f, "203.0.113.77", order_id)).status_code for _ in range(7)]
        assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]


async def test_flood_from_many_sources_leaves_amounts_for_merchants(faces: Faces, db: Db) -> None:
    """The issue's attack: every amount near a price asked for, each from
    another address. Without the caps all 80 are taken and the merchant's
    signed create answers 422."""
    answers = [(await pick(faces, f"198.18.{n // 250}.{n % 250 + 1}", await open_order(faces))).status_code
               for n in range(2 * SLOTS + 5)]  # fmt: skip
    assert answers.count(200) == SLOTS // 2 and set(answers[SLOTS // 2 :]) == {422}
    for n in range(3):
        create = {"pid": MERCHANT_PID, "chain_type": 1, "order_no": f"AFTER-FLOOD-{n}", "amount": "1.00",
                  "currency": "CNY", "notify_url": MERCHANT_NOTIFY}  # fmt: skip
        resp = await faces.client.post("/api/pay/create", json=signed(create))
        assert resp.status_code == 200, resp.text
