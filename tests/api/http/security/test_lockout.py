"""Finding 5: an outsider cannot lock a merchant out by failing signatures
in its name. Through the proxy (nginx headers), the attacker and the
merchant's back end have different addresses, as on the internet."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from bridges.quickpay import sign as quickpay_sign
from engine.config import ApiSettings
from engine.models import Order
from tests.api.http.faces.support import RecordingChannel
from tests.api.http.security.support import live_app, nginx_headers
from tests.dbharness import Db
from tests.factories import make_merchant, signed

PID, KEY = "10002", "second-merchant-key-0123456789abcdef"
ATTACKER, MERCHANT_HOST = "203.0.113.66", "198.51.100.20"
PROXIED = ApiSettings(forwarded_allow_ips=["127.0.0.1/32"])


async def flood(client: httpx.AsyncClient, count: int, send: Any) -> list[int]:
    return [(await send(client)).status_code for _ in range(count)]


async def test_bad_signatures_do_not_use_the_merchant_budget(db: Db) -> None:
    await make_merchant(db, pid=PID, key=KEY, name="Second shop")
    async with live_app(db, api=PROXIED) as app, app.client() as client:
        created = await client.post(
            "/api/pay/create",
            json=signed({"pid": PID, "chain_type": 1, "order_no": "L-1", "amount": "10.00"}, KEY),
            headers=nginx_headers(MERCHANT_HOST),
        )
        assert created.status_code == 200, created.text
        forged = {"pid": PID, "order_no": "L-1", "signature": "0" * 32}

        def attack(c: httpx.AsyncClient) -> Any:
            return c.get("/api/pay/query", params=forged, headers=nginx_headers(ATTACKER))

        statuses = await flood(client, 600, attack)
        own = await client.get(
            "/api/pay/query",
            params=signed({"pid": PID, "order_no": "L-1"}, KEY),
            headers=nginx_headers(MERCHANT_HOST),
        )
        # Another source is not held up either; the attacker still is.
        other = await client.get("/api/pay/query", params=forged, headers=nginx_headers("198.51.100.99"))
        again = await attack(client)
    assert own.status_code == 200 and own.json()["data"]["status"] == "pending", own.text
    limit = ApiSettings().failed_signatures_per_minute
    assert statuses[:limit] == [403] * limit and set(statuses[limit:]) == {429}
    assert other.status_code == 403 and again.status_code == 429
    assert "bad signature" in again.json()["msg"]
    async with db.sessions() as session:
        order = await session.get(Order, int(created.json()["data"]["plat_order_no"]))
        assert order is not None and order.status == "pending"


def quickpay_order(order_no: str) -> dict[str, Any]:
    return {
        "store_no": PID,
        "paytype": 11,
        "appid": "wxd678efh567hg6787",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "amount": 1000,
        "order_no": order_no,
    }


async def test_quickpay_store_cannot_be_locked_out(db: Db) -> None:
    await make_merchant(db, pid=PID, key=KEY, name="Second shop")
    async with live_app(db, api=PROXIED) as app:
        app.state.channels = {"wechat": RecordingChannel("wechat")}
        async with app.client() as client:
            forged = {**quickpay_order("Q-forged"), "sign": "0" * 32}

            def attack(c: httpx.AsyncClient) -> Any:
                return c.post("/QuickPay/JSAPIPay", json=forged, headers=nginx_headers(ATTACKER))

            answers = [(await attack(client)).json()["msg"] for _ in range(600)]
            body = quickpay_order("Q-1")
            own = await client.post(
                "/QuickPay/JSAPIPay",
                json={**body, "sign": quickpay_sign(body, KEY)},
                headers=nginx_headers(MERCHANT_HOST),
            )
    assert own.json()["code"] == "SUCCESS", own.text
    assert all("签名错误" in msg or "too many" in msg for msg in answers)
    assert "too many" in answers[-1]
    async with db.sessions() as session:
        orders = list(await session.scalars(select(Order)))
    assert [o.merchant_order_no for o in orders] == ["Q-1"]
