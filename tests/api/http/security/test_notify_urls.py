"""Finding 10 (notify URLs): IPv6 forms that carry a private IPv4 address
(6to4 2002::/16, NAT64 64:ff9b::/96, Teredo, IPv4-compatible) are refused
like the IPv4 address itself, on the real app's create paths."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.models import Order
from tests.api.http.security.support import LiveApp, live_app
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, signed

HIDDEN_PRIVATE = [
    "http://[2002:7f00:1::1]:8080/hook",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4 of 169.254.169.254
    "https://[2002:c0a8:101::1]/notify",  # 6to4 of 192.168.1.1
    "http://[64:ff9b:1::a00:5]/notify",  # local-use NAT64 of 10.0.0.5
    "http://[::7f00:1]/notify",  # IPv4-compatible 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:f5ff:fffa]/notify",  # Teredo, client 10.0.0.5 (bits inverted)
    "http://[::ffff:7f00:1]/notify",  # IPv4-mapped 127.0.0.1
]


@pytest.fixture
async def app(db: Db) -> LiveApp:  # type: ignore[misc]
    async with live_app(db) as handle:
        yield handle


@pytest.mark.parametrize("url", HIDDEN_PRIVATE)
async def test_notify_url_hiding_a_private_ipv4_is_refused(app: LiveApp, db: Db, url: str) -> None:
    body = signed(
        {"pid": MERCHANT_PID, "chain_type": 1, "order_no": "N-1", "amount": "1.00", "notify_url": url}
    )
    async with app.client() as client:
        resp = await client.post("/api/pay/create", json=body)
    assert resp.status_code == 422 and "IPv4" in resp.json()["msg"], resp.text
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_public_6to4_is_judged_like_its_ipv4(app: LiveApp) -> None:
    body = signed(
        {"pid": MERCHANT_PID, "chain_type": 1, "order_no": "N-2", "amount": "1.00",
         "notify_url": "http://[2002:808:808::1]/notify"}
    )  # fmt: skip
    async with app.client() as client:
        resp = await client.post("/api/pay/create", json=body)
    assert resp.status_code == 200, resp.text
