"""/schema in headless Chromium with every request outside usdtpay refused:
the Swagger UI page renders the usdt face's create operation with its
request fields, from usdtpay's own assets alone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.browser import Browser, LiveServer, screenshot

pytestmark = pytest.mark.chromium


async def test_docs_render_with_no_network(live_server: LiveServer, browser: Browser) -> None:
    page = await browser.desktop_page()
    refused: list[str] = []

    async def only_usdtpay(route: Any) -> None:
        url = route.request.url
        if url.startswith(live_server.base_url + "/"):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await page.route("**/*", only_usdtpay)
    await page.goto(f"{live_server.base_url}/schema", wait_until="networkidle")
    create = page.locator(".opblock").filter(has=page.locator('[data-path="/api/pay/create"]'))
    await expect(create).to_be_visible(timeout=20_000)
    await expect(page.get_by_text("Signatures", exact=True)).to_be_visible()
    await create.locator(".opblock-summary").click()
    await create.locator(".opblock-body").get_by_role("tab", name="Schema").first.click()
    await expect(create.get_by_text("chain_type", exact=True).first).to_be_visible()
    await expect(create.get_by_text("422", exact=True).first).to_be_visible()
    await screenshot(page, "schema-usdt-create")
    assert refused == [], f"the docs page asked outside usdtpay: {refused}"
