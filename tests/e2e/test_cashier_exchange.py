"""The cashier page of an exchange order (seed 004 type 2) in headless
Chromium against the real app and the exchange simulators: which exchange,
the receiving account, the exact amount and that exchange's steps, in
Chinese and in English; no chain QR code and no network; "I have paid"
with the exchange's own identifier. Screenshots land in tests/artifacts/cashier/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from engine.config import ExchangeSettings
from tests.dbharness import Db
from tests.e2e.browser import DESKTOP, Browser, LiveServer, card_shot, screenshot, start_live_server
from tests.factories import signed
from tests.integration.engine.exchanges.support import Sims, add_account, credentials, running_sims

pytestmark = pytest.mark.chromium

WAIT_MS = 20_000  # polls every 3 s; generous for slow CI machines
PLATS = {"okx": "OKX", "binance": "BINANCE", "htx": "HTX"}
# What each exchange is called and how its app asks for the receiving account.
SHOWN = {
    "okx": {"zh": ("欧易 OKX", "收款方 UID"), "en": ("OKX", "Recipient UID")},
    "binance": {
        "zh": ("币安 Binance", "收款方币安 ID(Pay ID / UID)"),
        "en": ("Binance", "Recipient Binance ID"),
    },
    "htx": {"zh": ("火币 HTX", "收款方 UID"), "en": ("HTX", "Recipient UID")},
}
STEP = {"okx": ("内部转账", "Internal transfer"), "binance": ("发送给币安用户", "Send to a Binance user"),
        "htx": ("火币账户转账", "HTX account transfer")}  # fmt: skip


@pytest.fixture
async def shop(db: Db) -> AsyncIterator[tuple[LiveServer, Sims]]:
    with running_sims() as sims:
        exchanges = ExchangeSettings(
            okx_url=sims.okx.url, binance_url=sims.binance.url, htx_url=sims.htx.url, timeout_seconds=2.0
        )
        async with start_live_server(db, exchanges=exchanges) as server:
            for exchange in PLATS:
                await add_account(
                    db,
                    server.settings,
                    exchange,
                    credentials(sims, exchange),
                    datetime.now(UTC) - timedelta(hours=1),
                )
            yield server, sims


async def exchange_order(server: LiveServer, exchange: str, order_no: str) -> dict[str, Any]:
    fields = {
        "pid": "10001",
        "order_no": order_no,
        "amount": "25.00",
        "currency": "USDT",
        "type": 2,
        "plat": PLATS[exchange],
        "notify_url": "https://example.com/notify",
    }
    async with server.client() as client:
        resp = await client.post("/api/pay/create", json=signed(fields))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def expect_exchange_shown(page: Any, exchange: str, lang: str, created: dict[str, Any]) -> None:
    name, to_label = SHOWN[exchange][lang]
    await expect(page.locator("#pane-exchange")).to_be_visible()
    await expect(page.locator("#exchange-name")).to_have_text(name)
    await expect(page.locator("#exchange-title")).to_contain_text(name)
    await expect(page.locator("#exchange-to-label")).to_contain_text(to_label)
    await expect(page.locator("#exchange-to")).to_have_text(created["u_addr"])
    await expect(page.locator("#exchange-amount")).to_have_text(created["amount"])
    warning = "请转账精确金额" if lang == "zh" else "Pay exactly"
    await expect(page.locator("#exchange-warning")).to_contain_text(f"{warning} {created['amount']} USDT")
    steps = page.locator("#exchange-steps li")
    await expect(steps.first).to_contain_text(STEP[exchange][0 if lang == "zh" else 1])
    await expect(page.locator("#exchange-steps")).to_contain_text(created["amount"])
    # Nothing on a chain: no QR code, no network, no chain picker.
    await expect(page.locator("img.qr-img:visible")).to_have_count(0)
    assert await page.locator("#usdt-qr").get_attribute("src") is None
    await expect(page.locator("#pane-usdt")).to_be_hidden()
    await expect(page.locator("#pane-choose")).to_be_hidden()
    await expect(page.locator("#usdt-network-hint")).to_be_hidden()


@pytest.mark.parametrize("exchange", list(PLATS))
async def test_the_page_shows_the_exchange_account_and_exact_amount_in_both_languages(
    shop: tuple[LiveServer, Sims], browser: Browser, exchange: str
) -> None:
    server, _ = shop
    created = await exchange_order(server, exchange, f"E2E-{exchange}")
    assert created["u_type"] == PLATS[exchange]
    page = await browser.desktop_page()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    await page.goto(f"{server.base_url}/cashier.html?orderId={created['plat_order_no']}")
    await expect_exchange_shown(page, exchange, "zh", created)
    await card_shot(
        page, f"card-exchange-{exchange}-zh"
    )  # README: api/http/static/docs/cashier-exchange-okx.png
    await expect(page.locator("#claim-label")).to_contain_text(SHOWN[exchange]["zh"][0].split()[0])
    await page.locator("button.copy[data-copy='exchange-amount']").click()
    assert await page.evaluate("navigator.clipboard.readText()") == created["amount"]  # whole, not grouped
    await page.locator("button.copy[data-copy='exchange-to']").click()
    assert await page.evaluate("navigator.clipboard.readText()") == created["u_addr"]
    await page.locator("#lang-switch").click()
    await expect_exchange_shown(page, exchange, "en", created)
    await screenshot(page, f"desktop-exchange-{exchange}-en")


async def test_an_english_browser_gets_english_and_i_have_paid_takes_the_exchange_id(
    shop: tuple[LiveServer, Sims], browser: Browser
) -> None:
    server, sims = shop
    created = await exchange_order(server, "okx", "E2E-OKX-PAID")
    context = await browser.chromium.new_context(**{**DESKTOP, "locale": "en-US"})
    page = await context.new_page()
    await page.goto(f"{server.base_url}/cashier.html?orderId={created['plat_order_no']}")
    await expect_exchange_shown(page, "okx", "en", created)
    await expect(page.locator("#claim-label")).to_have_text("OKX order number")
    await page.locator("#claim-box summary").click()
    await page.locator("#claim-hash").fill("999999999")
    await page.locator("#claim-submit").click()
    await expect(page.locator("#claim-result")).to_contain_text(
        "has no incoming transfer with this OKX order number"
    )
    await screenshot(page, "desktop-exchange-okx-claim")
    row = sims.okx.add_deposit(amt=created["amount"], ts=datetime.now(UTC))
    await page.locator("#claim-hash").fill(row["fromWdId"])  # the sender's order number
    await page.locator("#claim-submit").click()
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)


async def test_a_phone_shows_the_steps_without_sideways_scrolling(
    shop: tuple[LiveServer, Sims], browser: Browser
) -> None:
    server, _ = shop
    created = await exchange_order(server, "htx", "E2E-HTX-PHONE")
    page = await browser.mobile_page()
    await page.goto(f"{server.base_url}/cashier.html?orderId={created['plat_order_no']}")
    await expect_exchange_shown(page, "htx", "zh", created)
    await card_shot(page, "card-exchange-htx-phone")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "mobile-exchange-htx")
