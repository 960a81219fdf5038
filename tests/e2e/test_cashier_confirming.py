"""The payer's side (issue 17) in headless Chromium against a real EVM chain
(anvil) and the real ERC20 watcher: "confirming n / N" as blocks are mined,
then paid; a reorg that drops the transfer puts the page back to waiting;
"I have paid" with a good, a wrong-amount and a random hash; an under-payment
explained; a phone with the QR code above the fold; both languages.
Screenshots land in tests/artifacts/cashier/."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest
from playwright.async_api import expect

from engine.models import Order
from tests.e2e.browser import Browser, card_shot, screenshot
from tests.e2e.evm_world import CONFIRMATIONS, EvmWorld, order_units
from tests.e2e.latency import record_latency

pytestmark = [pytest.mark.chromium, pytest.mark.anvil]

WAIT_MS = 30_000  # the page polls every 3 s; generous for a loaded machine
N = CONFIRMATIONS


def usdt(units: int) -> str:
    return f"{units // 10**6}.{units % 10**6:06d}"


async def open_erc20(world: EvmWorld, page: Any, order_id: str) -> tuple[str, int]:
    """The payer opens the cashier link and picks USDT on Ethereum."""
    await page.goto(world.page_url(order_id))
    await page.locator(".channel[data-type='usdt_erc20']").click()
    await expect(page.locator("#pane-usdt")).to_be_visible()
    return await order_units(world, order_id)


async def test_confirming_counts_blocks_then_paid(evm_world: EvmWorld, browser: Browser) -> None:
    world = evm_world
    order_id = await world.precreate()
    page = await browser.desktop_page()
    address, units = await open_erc20(world, page, order_id)
    await expect(page.locator("#payee")).to_contain_text("Test shop")
    await expect(page.locator("#subject")).to_have_text("VIP会员充值 · 一个月")
    title = page.locator("#confirm-title")
    async with world.watcher() as streamer:
        began = time.monotonic()
        await world.chain.pay(address, units)  # mined into one block: confirmation 1
        await world.until_seen(streamer, order_id)
        await expect(title).to_have_text(f"已收到付款,正在确认(1 / {N})", timeout=WAIT_MS)
        seen_after = time.monotonic() - began
        await expect(page.locator("#pane-usdt")).to_be_hidden()
        await expect(page.locator("#confirm-amount")).to_have_text(usdt(units))
        await expect(page.locator("#confirm-eta")).to_contain_text("预计还需约")
        await card_shot(page, "docs-desktop-confirming")
        await screenshot(page, "desktop-erc20-confirming-1")
        async with world.server.client() as client:  # the merchant still reads unpaid
            body = (await client.get("/api/check_order", params={"out_trade_no": order_id})).json()
        assert (body["status"], body["seen"]["confirmations"], body["seen"]["needed"]) == (0, 1, N)
        for n in range(2, N + 1):
            await world.chain.mine(1)
            await expect(title).to_have_text(f"已收到付款,正在确认({n} / {N})", timeout=WAIT_MS)
        await page.locator("#lang-switch").click()
        await expect(title).to_have_text(f"Payment received, confirming ({N} / {N})")
        await world.chain.mine(1)  # final now
        await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#pane-paid h2")).to_have_text("Paid")
    await screenshot(page, "desktop-erc20-paid")
    record_latency("eth (anvil), watcher polling every 0.2 s, page every 3 s", seen_after)


async def test_a_reorg_that_drops_the_transfer_returns_the_page_to_waiting(
    evm_world: EvmWorld, browser: Browser
) -> None:
    world = evm_world
    order_id = await world.precreate()
    page = await browser.desktop_page()
    address, units = await open_erc20(world, page, order_id)
    async with world.watcher():
        before = await world.chain.snapshot()
        await world.chain.pay(address, units)
        await expect(page.locator("#pane-confirming")).to_be_visible(timeout=WAIT_MS)
        await world.chain.revert(before)  # the block holding the transfer is gone
        await expect(page.locator("#pane-usdt")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator("#reorg-note")).to_be_visible()
        await expect(page.locator("#reorg-note")).to_contain_text("区块重组")
        await screenshot(page, "desktop-erc20-reorg")
        await world.chain.mine(N + 2)
        await page.wait_for_timeout(1000)
    async with world.db.sessions() as session:
        order = await session.get(Order, int(order_id))
        assert order is not None and order.status == "pending"
    await expect(page.locator("#pane-usdt")).to_be_visible()


async def test_i_have_paid_with_a_good_a_wrong_amount_and_a_random_hash(
    evm_world: EvmWorld, browser: Browser
) -> None:
    world = evm_world  # no watcher here: only the hash check can settle the order
    order_id = await world.precreate()
    page = await browser.desktop_page()
    address, units = await open_erc20(world, page, order_id)
    short = await world.chain.pay(address, units - 10_000)
    good = await world.chain.pay(address, units)
    await world.chain.mine(N)
    await page.locator("#claim summary").click()
    result = page.locator("#claim-result")

    await page.locator("#claim-hash").fill(short)
    await page.locator("#claim-submit").click()
    sent, needed = usdt(units - 10_000), usdt(units)
    await expect(result).to_contain_text(f"这笔转账金额为 {sent} USDT,本订单需要 {needed} USDT。")
    await page.locator("#lang-switch").click()
    await expect(result).to_contain_text(f"This transfer sent {sent} USDT; the order needs {needed} USDT.")
    await screenshot(page, "desktop-claim-wrong-amount-en")
    await page.locator("#lang-switch").click()

    await page.locator("#claim-hash").fill("0x" + secrets.token_hex(32))
    await page.locator("#claim-submit").click()
    await expect(result).to_contain_text("网络上找不到这笔交易")
    await page.locator("#claim-hash").fill("not a hash")
    await page.locator("#claim-submit").click()
    await expect(result).to_contain_text("这不是有效的交易哈希")

    await page.locator("#claim-hash").fill(good)
    await page.locator("#claim-submit").click()
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
    await screenshot(page, "desktop-claim-paid")


async def test_a_phone_shows_the_qr_above_the_fold_and_explains_an_underpayment(
    evm_world: EvmWorld, browser: Browser
) -> None:
    world = evm_world
    order_id = await world.precreate()
    page = await browser.mobile_page()
    address, units = await open_erc20(world, page, order_id)
    height = page.viewport_size["height"]
    box = await page.locator("#usdt-qr").bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, (box, height)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The address in groups of four, none broken across lines, copied whole.
    groups = await page.locator("#usdt-address .grp").evaluate_all(
        "els => els.map(e => [e.textContent, e.getClientRects().length])"
    )
    assert "".join(g for g, _ in groups) == address and all(rects == 1 for _, rects in groups)
    assert groups[0][0] == "0x" and all(len(g) == 4 for g, _ in groups[1:])
    lines = {
        top
        for top in await page.locator("#usdt-address .grp").evaluate_all(
            "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
        )
    }
    assert len(lines) >= 2  # it does wrap on a phone: between groups only
    await expect(page.locator("#usdt-address")).to_have_attribute("data-value", address)
    await screenshot(page, "mobile-erc20-zh")

    async with world.watcher():
        await world.chain.pay(address, units - 1)  # one unit short
        near = page.locator("#near-miss")
        await expect(near).to_be_visible(timeout=WAIT_MS)
        await expect(near).to_contain_text("收到的金额不足")
        await expect(near).to_contain_text(f"{usdt(units - 1)} USDT,本订单需要 {usdt(units)} USDT")
        await expect(near).to_contain_text("请不要补转差额")
        await screenshot(page, "mobile-erc20-underpaid")
        await world.chain.pay(address, units)
        await expect(page.locator("#confirm-title")).to_have_text(
            re.compile(rf"^已收到付款,正在确认\(\d / {N}\)$"), timeout=WAIT_MS
        )
        await card_shot(page, "docs-phone-confirming")
        await screenshot(page, "mobile-erc20-confirming")


async def test_english_from_accept_language_and_server_errors_in_both(
    evm_world: EvmWorld, browser: Browser
) -> None:
    world = evm_world
    order_id = await world.precreate(name="Pro plan, one month")
    phone = {k: v for k, v in browser.devices["Pixel 7"].items() if k != "default_browser_type"}
    page = await (await browser.chromium.new_context(**phone, locale="en-US")).new_page()
    address, _ = await open_erc20(world, page, order_id)
    assert await page.evaluate("document.documentElement.lang") == "en"
    await expect(page.locator("#usdt-title")).to_have_text("Pay with USDT")
    await expect(page.locator("#payee")).to_have_text("Paying Test shop")
    box = await page.locator("#usdt-qr").bounding_box()
    assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"]
    await screenshot(page, "mobile-erc20-en")
    await page.goto(f"{world.server.base_url}/cashier.html?orderId=424242424242")
    await expect(page.locator("#error-msg")).to_have_text("no order 424242424242; check the order number")
    await page.locator("#lang-switch").click()
    await expect(page.locator("#error-msg")).to_have_text("找不到该订单,请核对订单号或回到商户页面重新下单。")
    assert address
