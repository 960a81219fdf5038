"""A cashier-face order (payer picks the channel) in headless Chromium, with
the Alipay bridge pointed at the Alipay gateway simulator: a phone follows
the app scheme, a desktop shows the QR code, and the simulator's signed
notification turns the page to paid."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import expect

from engine.models import Order
from tests.dbharness import Db
from tests.e2e.browser import Browser, LiveServer, screenshot, start_live_server
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_keys import rsa_key
from tests.integration.bridges.world import ALIPAY_APP_ID, SELLER_ID, alipay_settings

pytestmark = pytest.mark.chromium

WAIT_MS = 20_000


@pytest.fixture
def alipay() -> Iterator[AlipaySim]:
    sim = AlipaySim(
        app_id=ALIPAY_APP_ID, seller_id=SELLER_ID, app_public_key=rsa_key("alipay-app").public_key()
    )
    with sim:
        yield sim


@pytest.fixture
async def fiat_server(db: Db, alipay: AlipaySim) -> AsyncIterator[LiveServer]:
    async with start_live_server(db, alipay=alipay_settings(alipay, timeout_seconds=5)) as server:
        yield server


async def precreate(server: LiveServer, name: str = "VIP会员充值", price: str = "0.01") -> dict[str, Any]:
    """Seed 000's merchant call, from the merchant's back end on loopback."""
    async with server.client() as client:
        resp = await client.post("/api/precreate", json={"name": name, "price": price})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["success"] is True
    assert body["cashier_url"] == f"{server.base_url}/cashier.html?orderId={body['out_trade_no']}"
    return body


# The simulator's precreate answers a fresh random https://qr.alipay.com/bax0<hex> code.
SIM_QR = r"https%3A%2F%2Fqr\.alipay\.com%2Fbax0[0-9a-f]{20}"


def only_trade(sim: AlipaySim) -> str:
    """out_trade_no of the one trade the bridge opened at the gateway."""
    assert len(sim.trades) == 1, sim.trades
    return next(iter(sim.trades))


async def test_fiat_order_on_a_phone_follows_the_channel_link(
    fiat_server: LiveServer, browser: Browser, alipay: AlipaySim
) -> None:
    """Real stack: the phone asks with device=mobile; the Alipay bridge answers
    the face-to-face code with its alipays:// app scheme, which the page opens
    first (seed 000: urlscheme, then qrcode, then payurl)."""
    created = await precreate(fiat_server)
    page = await browser.mobile_page()
    asked: list[Any] = []
    page.on(
        "request", lambda r: asked.append(r.post_data_json) if r.url.endswith("/get_pay_params") else None
    )
    await page.goto(created["cashier_url"])
    await expect(page.locator("#pane-choose")).to_be_visible()
    await expect(page.locator("#subject")).to_have_text("VIP会员充值")
    await expect(page.locator("#price")).to_have_text("¥0.01")
    await screenshot(page, "mobile-choose")

    async with page.expect_request(lambda r: r.url.startswith("alipays:")) as launched:
        await page.locator(".channel[data-type='alipay']").click()
    scheme = (await launched.value).url
    assert scheme.startswith("alipays://platformapi/startapp?saId=10000007&qrcode=")
    await screenshot(page, "mobile-alipay-scheme")
    assert asked == [{"orderId": created["out_trade_no"], "type": "alipay", "device": "mobile"}]

    resp = await alipay.pay(only_trade(alipay))  # paid in the app; Alipay notifies usdtpay
    assert resp is not None and resp.text == "success"
    await page.goto(created["cashier_url"])
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
    await screenshot(page, "mobile-alipay-paid")


# Seed 000's three links at once, to check the page's order of preference.
ALL_LINKS = {
    "payurl": "https://shop.example/h5pay?trade=1",
    "qrcode": "https://qr.alipay.com/bax01234",
    "urlscheme": "alipays://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2Fbax01234",
}


async def answer_all_links(page: Any, asked: list[Any]) -> None:
    """Answer get_pay_params with all three links (the rest is the real app)."""

    async def fulfill(route: Any) -> None:
        asked.append(route.request.post_data_json)
        await route.fulfill(status=200, json={"success": True, "data": ALL_LINKS})

    await page.route("**/api/get_pay_params", fulfill)


async def test_a_phone_opens_the_urlscheme_first(fiat_server: LiveServer, browser: Browser) -> None:
    created = await precreate(fiat_server)
    page = await browser.mobile_page()
    asked: list[Any] = []
    await answer_all_links(page, asked)
    opened: list[str] = []
    page.on("request", lambda r: opened.append(r.url) if r.url.startswith("alipays:") else None)
    await page.goto(created["cashier_url"])
    async with page.expect_request(lambda r: r.url.startswith("alipays:")) as launched:
        await page.locator(".channel[data-type='alipay']").click()
    assert (await launched.value).url == ALL_LINKS["urlscheme"]
    assert asked == [{"orderId": created["out_trade_no"], "type": "alipay", "device": "mobile"}]
    await expect(page.locator("#fiat-open")).to_have_attribute("href", ALL_LINKS["urlscheme"])
    await expect(page.locator("#fiat-link")).to_have_attribute("href", ALL_LINKS["payurl"])
    await expect(page.locator("#fiat-qr-box")).to_be_hidden()
    assert page.url == created["cashier_url"]  # still here, polling, if the app did not open
    assert opened == [ALL_LINKS["urlscheme"]]  # launched once, not in a loop
    await screenshot(page, "mobile-alipay-scheme")


async def test_a_desktop_shows_the_qrcode_and_never_the_scheme(
    fiat_server: LiveServer, browser: Browser
) -> None:
    created = await precreate(fiat_server)
    page = await browser.desktop_page()
    asked: list[Any] = []
    await answer_all_links(page, asked)
    opened: list[str] = []
    page.on("request", lambda r: opened.append(r.url) if r.url.startswith("alipays:") else None)
    await page.goto(created["cashier_url"])
    await page.locator(".channel[data-type='alipay']").click()
    await expect(page.locator("#fiat-qr")).to_have_attribute(
        "src", "/api/qr.svg?data=" + quote(ALL_LINKS["qrcode"], safe="")
    )
    assert asked[0]["device"] == "pc"
    await expect(page.locator("#fiat-open")).to_be_hidden()
    assert opened == []


async def test_fiat_order_on_a_desktop_shows_the_qr_code(
    fiat_server: LiveServer, browser: Browser, alipay: AlipaySim
) -> None:
    created = await precreate(fiat_server, name="测试商品", price="1.00")
    page = await browser.desktop_page()
    await page.goto(created["cashier_url"])
    await expect(page.locator("#pane-choose")).to_be_visible()
    await screenshot(page, "desktop-choose")
    await page.locator(".channel[data-type='alipay']").click()
    await expect(page.locator("#fiat-qr-box")).to_be_visible()
    only_trade(alipay)
    image = page.locator("#fiat-qr")
    await expect(image).to_have_attribute("src", re.compile(r"^/api/qr\.svg\?data=" + SIM_QR + "$"))
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(page.locator("#fiat-open")).to_be_hidden()  # no app to open on a desktop
    await screenshot(page, "desktop-alipay-qr")


async def test_picking_usdt_at_the_cashier_reserves_an_exact_amount(
    fiat_server: LiveServer, browser: Browser
) -> None:
    created = await precreate(fiat_server, name="测试商品", price="100.00")
    page = await browser.desktop_page()
    await page.goto(created["cashier_url"])
    await page.locator(".channel[data-type='usdt_trc20']").click()
    await expect(page.locator("#pane-usdt")).to_be_visible()
    await expect(page.locator("#usdt-amount")).to_have_text("13.890001")
    await expect(page.locator("#usdt-chain")).to_have_text("TRC20")
    async with fiat_server.db.sessions() as session:
        order = await session.get(Order, int(created["out_trade_no"]))
    assert order is not None and order.chain == "tron" and order.usdt_units == 13_890_001
    await expect(page.locator("#usdt-address")).to_have_text(order.address or "")
    await screenshot(page, "desktop-cashier-usdt")
