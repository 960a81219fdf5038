"""An EPay shop's checkout in headless Chromium: the shop's page posts the
signed form to /submit.php, the browser lands on the cashier page, and
only after the order is paid does it come back to the shop's return_url,
with parameters the shop's own EPay verifier accepts."""

from __future__ import annotations

import html
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.async_api import expect

from engine.chain import ChainTransfer
from engine.models import Order
from engine.settlement import ingest, rules_for
from tests.e2e.browser import Browser, LiveServer, screenshot
from tests.factories import MERCHANT_KEY, MERCHANT_PID, tron_address
from tests.fakes.epay_client import signed, verify
from tests.fakes.merchant_receiver import MerchantReceiver

pytestmark = pytest.mark.chromium

WAIT_MS = 20_000


def shop_checkout_page(action: str, fields: dict[str, str]) -> str:
    """What an EPay plugin renders: a form that posts itself to submit.php."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return f'<form id="f" method="post" action="{action}">{inputs}</form><script>f.submit()</script>'


async def pay_on_chain(server: LiveServer, order_id: int) -> None:
    """What the watcher does for a final transfer of the exact amount."""
    async with server.db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None and order.chain and order.address and order.usdt_units
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


async def test_the_shop_gets_its_signed_return_only_after_payment(
    live_server: LiveServer, browser: Browser
) -> None:
    with MerchantReceiver(MERCHANT_KEY) as shop:  # the shop's site, checking EPay signatures itself
        return_url = shop.url("epay", "return")
        fields = {
            "pid": MERCHANT_PID,
            "type": "usdt.trc20",
            "out_trade_no": "DJ2024E2E0001",
            "notify_url": "https://shop.example/epay/notify",
            "return_url": return_url,
            "name": "月卡 x1",
            "money": "72",
            "sitename": "独角数卡",
        }
        page = await browser.desktop_page()
        await page.set_content(
            shop_checkout_page(f"{live_server.base_url}/submit.php", signed(fields, MERCHANT_KEY))
        )
        await page.wait_for_url(re.compile(r"/cashier\.html\?orderId=\d+$"), timeout=WAIT_MS)
        order_id = int(dict(parse_qsl(urlsplit(page.url).query))["orderId"])
        await expect(page.locator("#usdt-amount")).to_have_text("10.000001")
        await expect(page.locator("#price")).to_have_text("¥72.00")
        await screenshot(page, "desktop-epay-usdt")
        assert shop.received == []

        await pay_on_chain(live_server, order_id)
        await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
        await page.wait_for_url(re.compile("^" + re.escape(return_url) + r"\?"), timeout=WAIT_MS)
        # Only the return itself: the browser may also ask the shop for /favicon.ico.
        [back] = [got for got in shop.received if got.path.startswith("/epay/return?")]
    assert back.signature_ok
    got = back.fields
    assert verify(got, MERCHANT_KEY)
    assert (got["trade_no"], got["out_trade_no"], got["money"]) == (str(order_id), "DJ2024E2E0001", "72")
    assert (got["trade_status"], got["type"], got["name"]) == ("TRADE_SUCCESS", "usdt.trc20", "月卡 x1")
