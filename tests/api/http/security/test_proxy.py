"""Finding 2: unsigned creates (and /metrics) behind a reverse proxy.

The app runs on a loopback port as `usdtpay serve` runs it; the test plays
nginx on the same host (peer 127.0.0.1) and sends what nginx sends with the
README's configuration (support.nginx_headers). Every refusal also checks
that no order was created."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from engine.config import ApiSettings
from engine.models import Order
from tests.api.http.security.support import LiveApp, live_app, nginx_headers
from tests.dbharness import Db

PRECREATE = {"name": "VIP会员充值", "price": "1.00"}
WECHAT = {"bizOrderId": "B1", "amount": 100, "subject": "s", "callbackUrl": "https://shop.example/notify"}
INTERNET = "203.0.113.7"
DOCKER_PEER = "172.18.0.5"


async def orders(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def precreate(app: LiveApp, headers: dict[str, str]) -> Any:
    async with app.client() as client:
        return await client.post("/api/precreate", json=PRECREATE, headers=headers)


async def test_defaults_trust_no_forwarded_client(db: Db) -> None:
    """nginx on the same host, nothing configured: before, every internet
    client arrived from 127.0.0.1 and was trusted."""
    async with live_app(db) as app:
        via_proxy = nginx_headers(INTERNET)
        created = await precreate(app, via_proxy)
        async with app.client() as client:
            dryad = await client.post("/api/pay/wechat/native", json=WECHAT, headers=via_proxy)
            scrape = await client.get("/metrics", headers=via_proxy)
            direct = await client.post("/api/precreate", json=PRECREATE)  # the merchant's own back end
    assert created.status_code == 403 and created.json()["success"] is False, created.text
    assert dryad.status_code == 403, dryad.text
    assert scrape.status_code == 403
    assert direct.status_code == 200, direct.text
    assert await orders(db) == 1
    assert ApiSettings().trusted_networks == ["127.0.0.0/8", "::1/128"]
    assert ApiSettings().forwarded_allow_ips == []


async def test_configured_proxy_names_the_client(db: Db) -> None:
    """Docker: nginx at 127.0.0.1 configured; a client in 172.16/12 (the
    Docker network, i.e. anyone the proxy forwards) is not trusted, nor one
    that writes X-Forwarded-For: 127.0.0.1 itself."""
    async with live_app(db, api=ApiSettings(forwarded_allow_ips=["127.0.0.1/32"])) as app:
        docker = await precreate(app, nginx_headers(DOCKER_PEER))
        spoofed = await precreate(app, nginx_headers(INTERNET, sent_xff="127.0.0.1"))
        chain = await precreate(app, nginx_headers(INTERNET, sent_xff="10.0.0.1, 127.0.0.1"))
        async with app.client() as client:
            scrape = await client.get("/metrics", headers=nginx_headers(INTERNET, sent_xff="127.0.0.1"))
    for resp in (docker, spoofed, chain):
        assert resp.status_code == 403 and "X-Api-Key" in resp.json()["msg"], resp.text
    assert scrape.status_code == 403
    assert await orders(db) == 0


async def test_trusted_back_end_through_the_proxy(db: Db) -> None:
    api = ApiSettings(trusted_networks=["10.0.0.0/24"], forwarded_allow_ips=["127.0.0.1"])
    async with live_app(db, api=api) as app:
        merchant = await precreate(app, nginx_headers("10.0.0.5"))
        # A proxy that sent no header hides its client: not trusted.
        bare = await precreate(app, {})
        outsider = await precreate(app, nginx_headers(INTERNET, sent_xff="10.0.0.5"))
    assert merchant.status_code == 200, merchant.text
    assert bare.status_code == 403 and outsider.status_code == 403
    assert await orders(db) == 1


async def test_forwarded_header_mode_reads_only_forwarded(db: Db) -> None:
    api = ApiSettings(
        trusted_networks=["10.0.0.0/24"], forwarded_allow_ips=["127.0.0.1"], forwarded_header="forwarded"
    )
    async with live_app(db, api=api) as app:
        merchant = await precreate(app, {"Forwarded": 'for="10.0.0.5:4711";proto=https'})
        # X-Forwarded-For is not the configured header: a client may write it.
        forged = await precreate(
            app, {"X-Forwarded-For": "10.0.0.5", "Forwarded": f"for=10.0.0.5, for={INTERNET}"}
        )
    assert merchant.status_code == 200, merchant.text
    assert forged.status_code == 403, forged.text
    assert await orders(db) == 1


async def test_browser_pages_cannot_create_through_a_trusted_browser(db: Db) -> None:
    """A trusted employee's browser (loopback) visits a hostile page."""
    async with live_app(db) as app, app.client() as client:
        body = json.dumps(PRECREATE)
        from_page = await client.post(
            "/api/precreate",
            content=body,
            headers={
                "content-type": "application/json",
                "origin": "https://evil.example",
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "cors",
            },
        )
        # A "simple" cross-site POST needs no CORS preflight: text/plain or a form.
        plain = await client.post("/api/precreate", content=body, headers={"content-type": "text/plain"})
        form = await client.post("/api/pay/alipay/precreate", data={**WECHAT, "amount": "100"})
        dryad_page = await client.post(
            "/api/pay/wechat/native", json=WECHAT, headers={"sec-fetch-site": "same-site"}
        )
    assert from_page.status_code == 403 and "web page" in from_page.json()["msg"], from_page.text
    assert plain.status_code == 415 and plain.json()["success"] is False, plain.text
    assert form.status_code == 415 and form.json()["code"] == 415, form.text
    assert dryad_page.status_code == 403, dryad_page.text
    assert await orders(db) == 0
