"""Per-source budgets count an IPv6 client by its /64 (api.ipv6_source_prefix).

Every home IPv6 line and every VPS gets a whole /64 and may send from any
address in it; counted per address, an attacker would have 2^64 budgets.
The app runs on loopback behind the test's nginx (support.nginx_headers),
and each attack walks through fresh addresses of one /64: the budget is
used up all the same, while a neighbouring /64 is not held up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.http.client_address import source_key
from engine.config import ApiSettings
from engine.models import Order
from tests.api.http.security.support import live_app, nginx_headers
from tests.dbharness import Db
from tests.factories import MERCHANT_PID

LIMIT = 5
ATTACKER_64 = "2001:db8:66:1"
NEIGHBOUR = "2001:db8:66:2::1"  # another /64 inside the same /48


def attacker(n: int) -> str:
    """The n-th address the attacker uses inside its one /64."""
    return f"{ATTACKER_64}:{n >> 32 & 0xFFFF:x}:{n >> 16 & 0xFFFF:x}:{n & 0xFFFF:x}:{n % 7 + 1:x}"


def proxied(**fields: Any) -> ApiSettings:
    return ApiSettings(forwarded_allow_ips=["127.0.0.1/32"], **fields)


def test_source_key_groups_ipv6_by_prefix() -> None:
    assert source_key("2001:db8:66:1:aaaa::1") == source_key("2001:db8:66:1:ffff:ffff:ffff:ffff")
    assert source_key("2001:db8:66:1::1") == "2001:db8:66:1::/64"
    assert source_key("2001:db8:66:1::1") != source_key(NEIGHBOUR)
    assert source_key("2001:db8:66:1::1", 48) == source_key(NEIGHBOUR, 48) == "2001:db8:66::/48"
    assert source_key("2001:db8:66:1::1", 128) != source_key("2001:db8:66:1::2", 128)
    assert source_key("203.0.113.5") == "203.0.113.5" != source_key("203.0.113.6")
    assert source_key("::ffff:203.0.113.5") == "203.0.113.5"  # IPv4-mapped: the IPv4 address
    assert source_key("not an address") == "unknown"


async def statuses(client: httpx.AsyncClient, send: Any, count: int) -> list[int]:
    return [(await send(client, attacker(n))).status_code for n in range(count)]


@pytest.mark.parametrize("prefix", [64, 48])
async def test_failed_signatures_are_counted_per_64(db: Db, prefix: int) -> None:
    forged = {"pid": MERCHANT_PID, "order_no": "X-1", "signature": "0" * 32}

    def send(client: httpx.AsyncClient, ip: str) -> Any:
        return client.get("/api/pay/query", params=forged, headers=nginx_headers(ip))

    api = proxied(failed_signatures_per_minute=LIMIT, ipv6_source_prefix=prefix)
    async with live_app(db, api=api) as app, app.client() as client:
        answers = await statuses(client, send, LIMIT + 3)
        neighbour = (await send(client, NEIGHBOUR)).status_code
    assert answers == [403] * LIMIT + [429] * 3
    # A /48 setting makes the neighbouring /64 the same source.
    assert neighbour == (403 if prefix == 64 else 429)


async def test_unsigned_creates_and_reads_are_counted_per_64(db: Db) -> None:
    """The per-client budget of the unsigned faces (precreate, lookups, QR)."""

    def create(client: httpx.AsyncClient, ip: str) -> Any:
        return client.post("/api/precreate", json={"name": "x", "price": "1.00"}, headers=nginx_headers(ip))

    def lookup(client: httpx.AsyncClient, ip: str) -> Any:
        body = {"order_id": "1000000000000001"}
        return client.post("/api/order/info", json=body, headers=nginx_headers(ip))

    def qr(client: httpx.AsyncClient, ip: str) -> Any:
        return client.get("/api/qr.svg", params={"data": "https://a.example"}, headers=nginx_headers(ip))

    api = proxied(rate_limit_per_minute=LIMIT, trusted_networks=[])
    async with live_app(db, api=api) as app, app.client() as client:
        creates = await statuses(client, create, LIMIT + 1)
        lookups = [(await lookup(client, attacker(1000 + n))).status_code for n in range(2)]
        codes = await statuses(client, qr, LIMIT + 1)
        neighbour = [(await send(client, NEIGHBOUR)).status_code for send in (create, lookup, qr)]
    assert creates == [403] * LIMIT + [429], creates
    assert lookups == [429, 429]  # the same budget, whatever face
    assert codes == [200] * LIMIT + [429]
    assert neighbour == [403, 404, 200]
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_i_have_paid_is_counted_per_64(db: Db) -> None:
    """Each check may cost node requests: 5 a minute per source."""

    def claim(client: httpx.AsyncClient, ip: str, order: int) -> Any:
        body = {"orderId": str(order), "hash": "not-a-hash"}
        return client.post("/api/cashier/paid", json=body, headers=nginx_headers(ip))

    async with live_app(db, api=proxied()) as app, app.client() as client:
        # A new order id each time, so only the per-source budget can refuse
        # (the orders do not exist: 404 until the budget answers 429).
        answers = [(await claim(client, attacker(n), 1000000000000001 + n)).status_code for n in range(6)]
        neighbour = (await claim(client, NEIGHBOUR, 1000000000000999)).status_code
    assert answers == [404] * 5 + [429], answers
    assert neighbour == 404
