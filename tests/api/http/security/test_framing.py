"""Finding 10 (framing): another site cannot frame the cashier page and lay
its own buttons over it. A page in headless Chromium embeds the real
cashier page from the app on loopback; the browser must refuse to show it."""

from __future__ import annotations

from typing import Any

from tests.api.http.security.support import live_app
from tests.dbharness import Db
from tests.e2e.browser import Browser, browser  # noqa: F401  (the fixture)


async def test_cashier_page_refuses_to_be_framed(db: Db, browser: Browser) -> None:  # noqa: F811
    async with live_app(db) as app:
        async with app.client() as client:
            created = await client.post("/api/precreate", json={"name": "VIP", "price": "1.00"})
            direct = await client.get("/cashier.html")
        url = created.json()["cashier_url"]
        page: Any = await browser.desktop_page()
        await page.goto(url)  # the page itself still opens
        assert await page.title() == "收银台 · usdtpay"
        hostile = await browser.desktop_page()
        await hostile.set_content(f'<h1>win a prize</h1><iframe id="f" src="{url}"></iframe>')
        frame = await (await hostile.wait_for_selector("#f")).content_frame()
        await frame.wait_for_load_state()
        shown = await frame.evaluate("document.title")
    assert shown != "收银台 · usdtpay", "the cashier page rendered inside another site's frame"
    assert frame.url.startswith("chrome-error://") or shown == ""
    assert "frame-ancestors 'none'" in direct.headers["content-security-policy"]
    assert direct.headers["x-frame-options"] == "DENY"
