"""The cashier page in headless Chromium against the real app: USDT orders
shown, settled and expired; a fiat order on a phone following the app
scheme. Screenshots land in tests/artifacts/cashier/."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import expect

from engine.chain import ChainTransfer
from engine.models import Order
from engine.settlement import ingest, rules_for
from tests.e2e.browser import Browser, LiveServer, screenshot
from tests.factories import signed, tron_address

pytestmark = pytest.mark.chromium

RETURN_URL = "https://shop.example/return?order=E2E-1"
WAIT_MS = 20_000  # polls every 3 s; generous for slow CI machines


async def create_usdt_order(server: LiveServer, order_no: str, chain_type: int = 1) -> dict[str, Any]:
    fields = {
        "pid": "10001",
        "chain_type": chain_type,
        "order_no": order_no,
        "amount": "100.00",
        "currency": "CNY",
        "scanpay": 1,
        "return_url": RETURN_URL,
    }
    async with server.client() as client:
        resp = await client.post("/api/pay/create", json=signed(fields))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def load_order(server: LiveServer, order_id: int) -> Order:
    async with server.db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def pay_on_chain(server: LiveServer, order_id: int) -> None:
    """What the watcher does for a final transfer of the exact amount: ingest it."""
    order = await load_order(server, order_id)
    assert order.chain and order.address and order.usdt_units
    rules = rules_for(server.settings, order.chain)
    transfer = ChainTransfer(
        chain=order.chain,
        tx_hash=secrets.token_hex(32),
        log_index=0,
        block_number=70_000_000,
        block_time=datetime.now(UTC),
        from_address=tron_address(999),
        to_address=order.address,
        token_contract=rules.token_contract,
        amount_units=order.usdt_units,
    )
    async with server.db.sessions() as session:
        result = await ingest(session, order.chain, [transfer], datetime.now(UTC), rules)
        await session.commit()
    assert result.matched_orders == [order_id]


async def move_expiry(server: LiveServer, order_id: int, seconds_from_now: float) -> None:
    async with server.db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order.expires_at = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
        await session.commit()


async def serve_merchant_return_page(page: Any) -> None:
    """The merchant's own site is outside usdtpay: answer it in the browser."""

    async def fulfill(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body="<h1>merchant return page</h1>")

    await page.context.route("https://shop.example/**", fulfill)


async def test_usdt_order_shows_address_and_exact_amount_then_turns_paid(
    live_server: LiveServer, browser: Browser
) -> None:
    created = await create_usdt_order(live_server, "E2E-PAID-1")
    assert created["amount"] == "13.890001"
    page = await browser.desktop_page()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    await serve_merchant_return_page(page)
    await page.goto(f"{live_server.base_url}/cashier.html?orderId={created['plat_order_no']}")

    await expect(page.locator("#pane-usdt")).to_be_visible()
    await expect(page.locator("#usdt-address")).to_have_text(created["u_addr"])
    await expect(page.locator("#usdt-amount")).to_have_text("13.890001")
    await expect(page.locator("#usdt-chain")).to_have_text("TRC20")
    await expect(page.locator("#price")).to_have_text("¥100.00")
    await expect(page.locator("#usdt-warning")).to_contain_text("13.890001 USDT")
    await expect(page.locator("#usdt-warning")).to_contain_text("不是 13.89")
    await page.locator("#lang-switch").click()  # the page speaks one language at a time
    await expect(page.locator("#usdt-warning")).to_contain_text("Pay exactly 13.890001 USDT, not 13.89.")
    await page.locator("#lang-switch").click()
    await expect(page.locator("#countdown")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    qr = page.locator("#usdt-qr")
    await expect(qr).to_have_attribute("src", f"/api/qr.svg?data={quote(created['u_addr'], safe='')}")
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")

    await page.locator("button.copy[data-copy='usdt-amount']").click()
    assert await page.evaluate("navigator.clipboard.readText()") == "13.890001"
    await page.locator("button.copy[data-copy='usdt-address']").click()
    assert await page.evaluate("navigator.clipboard.readText()") == created["u_addr"]
    await page.locator(".qr-tab[data-qr='amount']").click()
    await expect(qr).to_have_attribute("src", "/api/qr.svg?data=13.890001")
    await screenshot(page, "desktop-usdt-trc20")

    await pay_on_chain(live_server, int(created["plat_order_no"]))
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#pane-usdt")).to_be_hidden()
    await expect(page.locator("#return-link")).to_have_attribute("href", RETURN_URL)
    await screenshot(page, "desktop-usdt-paid")
    await page.wait_for_url(RETURN_URL, timeout=WAIT_MS)
    await expect(page.locator("h1")).to_have_text("merchant return page")


async def test_usdt_erc20_order_on_a_phone(live_server: LiveServer, browser: Browser) -> None:
    created = await create_usdt_order(live_server, "E2E-ERC20-1", chain_type=2)
    page = await browser.mobile_page(color_scheme="dark")
    await page.goto(f"{live_server.base_url}/cashier.html?orderId={created['plat_order_no']}")
    await expect(page.locator("#usdt-chain")).to_have_text("ERC20")
    await expect(page.locator("#usdt-address")).to_have_text(created["u_addr"])
    await expect(page.locator("#usdt-amount")).to_have_text(created["amount"])
    assert await page.evaluate("document.documentElement.dataset.device") == "mobile"
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "mobile-usdt-erc20-dark")


async def test_countdown_turns_to_expired(live_server: LiveServer, browser: Browser) -> None:
    created = await create_usdt_order(live_server, "E2E-EXPIRE-1")
    await move_expiry(live_server, int(created["plat_order_no"]), seconds_from_now=4)
    page = await browser.desktop_page()
    await page.goto(f"{live_server.base_url}/cashier.html?orderId={created['plat_order_no']}")
    await expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:0[0-4]$"))
    await expect(page.locator("#pane-usdt")).to_be_visible()
    await expect(page.locator("#pane-expired")).to_be_visible(timeout=WAIT_MS)
    # The address is no longer offered once the order has expired.
    await expect(page.locator("#pane-usdt")).to_be_hidden()
    await expect(page.locator("#countdown-row")).to_be_hidden()
    await screenshot(page, "desktop-usdt-expired")


async def test_expired_order_still_reports_a_late_payment(live_server: LiveServer, browser: Browser) -> None:
    created = await create_usdt_order(live_server, "E2E-LATE-1")
    order_id = int(created["plat_order_no"])
    await move_expiry(live_server, order_id, seconds_from_now=-5)
    page = await browser.desktop_page()
    await serve_merchant_return_page(page)
    await page.goto(f"{live_server.base_url}/cashier.html?orderId={order_id}")
    await expect(page.locator("#pane-expired")).to_be_visible()
    await pay_on_chain(live_server, order_id)  # inside the late window
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)


async def test_unknown_order_explains_what_to_do(live_server: LiveServer, browser: Browser) -> None:
    page = await browser.mobile_page()
    await page.goto(f"{live_server.base_url}/cashier.html?orderId=424242424242")
    await expect(page.locator("#pane-error")).to_be_visible()
    await expect(page.locator("#error-msg")).not_to_be_empty()
    await page.goto(f"{live_server.base_url}/cashier.html")
    await expect(page.locator("#error-msg")).to_contain_text("orderId")
    await screenshot(page, "mobile-error")
