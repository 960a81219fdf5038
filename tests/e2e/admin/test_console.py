"""The operator console in headless Chromium against the real app: sign in
with password and TOTP, find an order by tx hash and read its story, resend
its notification to the merchant's receiver, supplement by hash, credit an
unmatched transfer and see `usdtpay reconcile` report the decision, and the
audit log of it all. Screenshots land in tests/artifacts/admin/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from engine.admin import queries, totp
from engine.models import Order
from engine.money import format_usdt
from tests.e2e.admin.console import NOW_BLOCK, World, docs_shot, shot, sign_in
from tests.e2e.browser import Browser
from tests.fakes.tron_chain import PlannedTransfer
from tests.integration.engine.audit.books import reconcile

pytestmark = pytest.mark.chromium


def wrong_code(secret: str) -> str:
    """Six digits that are no code of the current, previous or next step."""
    now = datetime.now(UTC)
    near = {totp.code_at(secret, now + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


@dataclass
class Books:
    """Order A paid on chain, order B underpaid (unmatched), order C paid on
    chain in a block the watcher has not read yet (needs a supplement)."""

    a: Order
    b: Order
    c: Order
    pays_a: PlannedTransfer
    short_b: PlannedTransfer
    pays_c: PlannedTransfer


async def books(world: World) -> Books:
    a = await world.create_order("SHOP-A", "100.00")
    b = await world.create_order("SHOP-B", "50.00")
    c = await world.create_order("SHOP-C", "20.00")
    assert a.address and a.usdt_units and b.address and b.usdt_units and c.address and c.usdt_units
    pays_a = world.chain.add_transfer(NOW_BLOCK + 20, a.address, a.usdt_units)
    short_b = world.chain.add_transfer(NOW_BLOCK + 22, b.address, b.usdt_units - 10_000)
    pays_c = world.chain.add_transfer(NOW_BLOCK + 60, c.address, c.usdt_units)
    await world.watch(NOW_BLOCK + 10, NOW_BLOCK + 40)
    assert (await world.order(a.id)).status == "paid"
    assert (await world.transfer_by_hash(short_b.tx_hash)).reason == "underpaid"
    return Books(a, b, c, pays_a, short_b, pays_c)


async def test_the_console_is_off_until_an_account_exists(world: World) -> None:
    async with world.server.client() as client:
        assert (await client.get("/admin/login")).status_code == 404
        assert (await client.get("/admin/static/htmx.min.js")).status_code == 404
    await world.add_account("alice", "operator")
    async with world.server.client() as client:
        assert (await client.get("/admin/login")).status_code == 200
        assert (await client.get("/admin/")).status_code == 303


async def sign_in_and_dashboard(page: Any, world: World) -> list[str]:
    """Returns the browser console's errors, gathered from here on (the CSP
    allows only /admin/static scripts: htmx must run without eval)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(world.url("/admin/"))
    await expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin$"))
    await shot(page, "01-login")
    await sign_in(page, world, "alice")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await expect(page.locator("#created-today")).to_have_text("3")
    await expect(page.locator("#paid-today")).to_have_text("1")
    await shot(page, "02-dashboard")
    await docs_shot(page, "dashboard")
    return errors


async def find_by_hash_and_resend(page: Any, world: World, bk: Books) -> None:
    """Find order A by the hash of the transfer that paid it, read its
    story, resend its notification: the receiver gets it, signed."""
    await page.click("nav >> text=Orders")
    await page.fill("#q", "0x" + bk.pays_a.tx_hash.upper())
    await page.click("form.search button")
    link = page.locator(f'#orders a[href="/admin/orders/{bk.a.id}"]')
    await expect(link).to_be_visible()
    await shot(page, "03-orders-search")
    await link.click()
    story = page.locator("ol.timeline")
    for text in ("Order created", "Amount reserved", "Seen by watcher: matched to this order"):
        await expect(story).to_contain_text(text)
    await expect(story).to_contain_text(f"Transfer on tron: {format_usdt(bk.a.usdt_units or 0)} USDT")
    await expect(story).to_contain_text("Order paid")
    await expect(story).to_contain_text("Notification queued")
    await expect(page.locator("#tx-hash")).to_have_text(bk.pays_a.tx_hash)
    assert world.receiver.received == []
    await page.click("#resend-form button")
    await expect(page.locator(".flash.ok")).to_contain_text("delivered")
    [got] = world.receiver.received
    assert got.signature_ok and got.acked and got.fields["order_no"] == "SHOP-A"
    await expect(story).to_contain_text("Notification attempt #1: delivered")
    await expect(story).to_contain_text("Console: resend by alice")
    await shot(page, "04-order-story")
    await docs_shot(page, "order")


async def supplement_and_credit(page: Any, world: World, bk: Books) -> None:
    """Order C by supplement (verified on the simulated chain); the unmatched
    underpayment credited to order B with a note."""
    await page.goto(world.url(f"/admin/orders/{bk.c.id}"))
    await page.fill('#supplement-form input[name="tx_hash"]', bk.pays_c.tx_hash)
    await page.click("#supplement-form button")
    await expect(page.locator(".flash.ok")).to_contain_text(f"order {bk.c.id} is paid")
    assert (await world.order(bk.c.id)).tx_hash == bk.pays_c.tx_hash
    await page.click("nav >> text=Unmatched transfers")
    row = page.locator(f"#transfer-{(await world.transfer_by_hash(bk.short_b.tx_hash)).id}")
    await expect(row).to_contain_text("underpaid")
    await expect(row.locator('input[name="order_id"]')).to_have_value(str(bk.b.id))  # the likely order
    await shot(page, "05-unmatched-transfers")
    await docs_shot(page, "transfers")
    await row.locator('form.credit input[name="note"]').fill("customer short by 0.01, shop accepts")
    await row.locator("form.credit button").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"credited to order {bk.b.id}")
    assert (await world.order(bk.b.id)).status == "paid"
    await page.goto(world.url("/admin/transfers?resolved=1"))
    await expect(page.locator("table.transfers")).to_contain_text("credited")
    await shot(page, "06-resolved-transfers")


async def other_pages(page: Any, bk: Books) -> None:
    """A new merchant (its key shown once), wallets, watchers, notifications."""
    await page.click("nav >> text=Merchants")
    await page.fill('input[name="pid"]', "20002")
    await page.fill('input[name="name"]', "Second shop")
    await page.click('form[action="/admin/merchants"] button')
    key = await page.locator("#new-key").text_content()
    assert key and len(key) == 48
    await shot(page, "07-merchants-new-key")
    await page.reload()
    await expect(page.locator("#new-key")).to_have_count(0)  # never shown again
    await page.click("nav >> text=Wallets")
    await expect(page.locator("main table")).to_contain_text(bk.b.address or "")
    await shot(page, "08-wallets")
    await page.click("nav >> text=Watchers")
    await shot(page, "09-watchers")
    await page.click("nav >> text=Notifications")
    await shot(page, "10-notifications")


async def audit_log_shows_it_all(page: Any) -> None:
    await page.click("nav >> text=Audit log")
    audit = page.locator("table.audit")
    for action in ("login", "resend", "supplement", "credit", "add_merchant"):
        await expect(audit.locator("td", has_text=re.compile(f"^{action}$")).first).to_be_visible()
    await expect(audit).to_contain_text("customer short by 0.01, shop accepts")
    await shot(page, "11-audit-log")


async def test_operator_day(
    world: World,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bk = await books(world)
    await world.add_account("alice", "operator")
    page = await browser.desktop_page()
    errors = await sign_in_and_dashboard(page, world)
    await find_by_hash_and_resend(page, world, bk)
    await supplement_and_credit(page, world, bk)
    await other_pages(page, bk)
    await audit_log_shows_it_all(page)
    assert errors == []  # no CSP violation, no script error on any page
    # `usdtpay reconcile` reports the credit as an operator decision.
    window = ["--from", world.at(NOW_BLOCK).isoformat(), "--to", world.at(NOW_BLOCK + 200).isoformat()]
    run = await reconcile(capsys, monkeypatch, world.reconcile_env(), tmp_path, "--chain", "tron", *window)
    assert run.code == 0, run.out + run.err
    assert run.kinds() == {"matched": 2, "operator_credited": 1}
    [decided] = run.rows("operator_credited")
    assert decided["order_id"] == bk.b.id and decided["tx_hash"] == bk.short_b.tx_hash
    assert "by alice" in decided["message"] and "customer short by 0.01" in decided["message"]
    assert "operator decisions (1)" in run.out and "1 operator decision(s)" in run.out


async def test_support_reads_and_resends_but_cannot_credit(world: World, browser: Browser) -> None:
    bk = await books(world)
    short_b = bk.short_b
    await world.add_account("sam", "support")
    page = await browser.desktop_page()
    await sign_in(page, world, "sam")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await page.goto(world.url("/admin/transfers"))
    transfer = await world.transfer_by_hash(short_b.tx_hash)
    row = page.locator(f"#transfer-{transfer.id}")
    await expect(row).to_contain_text("an operator resolves these")
    await expect(row.locator("form.credit")).to_have_count(0)
    # Posting the form anyway (with a valid CSRF token) is refused and audited.
    token = await page.locator('header input[name="csrf"]').get_attribute("value")
    answer = await page.request.post(
        world.url(f"/admin/transfers/{transfer.id}/credit"),
        form={"csrf": token, "order_id": str(bk.b.id), "note": "trying my luck"},
        max_redirects=0,
    )
    assert answer.status == 403 and "support role may not credit" in await answer.text()
    assert (await world.transfer_by_hash(short_b.tx_hash)).status == "unmatched"
    async with world.db.sessions() as session:
        [refused] = await queries.audit_entries(session, action="credit")
    assert (refused.username, refused.ok) == ("sam", False)
    # Support may resend a notification.
    await page.goto(world.url(f"/admin/orders/{bk.a.id}"))
    await page.click("#resend-form button")
    await expect(page.locator(".flash.ok")).to_contain_text("delivered")
    assert len(world.receiver.received) == 1
    await expect(page.locator("#close-form")).to_have_count(0)
    await shot(page, "12-support-order")


async def test_refused_csrf_expired_session_and_wrong_totp(world: World, browser: Browser) -> None:
    from sqlalchemy import select, update

    from engine.models import AdminSession, Merchant

    await world.add_account("alice", "operator")
    page = await browser.desktop_page()

    # A wrong TOTP code: refused with the one generic message, audited.
    await sign_in(page, world, "alice", code=wrong_code(world.accounts["alice"].totp_secret))
    await expect(page.locator(".flash.error")).to_have_text("wrong username, password or code")
    await expect(page).to_have_url(re.compile(r"/admin/login"))
    await shot(page, "13-wrong-totp")

    await sign_in(page, world, "alice")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session_cookie = cookies["usdtpay_admin"]
    assert session_cookie["httpOnly"] and session_cookie["secure"] and session_cookie["sameSite"] == "Strict"

    # A form posted without the CSRF token (or with a wrong one) is refused.
    for form in ({"pid": "30003"}, {"pid": "30003", "csrf": "forged"}):
        answer = await page.request.post(world.url("/admin/merchants"), form=form, max_redirects=0)
        assert answer.status == 403 and "CSRF" in await answer.text()
    async with world.db.sessions() as session:
        assert await session.scalar(select(Merchant).where(Merchant.pid == "30003")) is None

    # An expired session sends the browser back to the login page.
    async with world.db.sessions() as session:
        await session.execute(update(AdminSession).values(expires_at=world.started))
        await session.commit()
    await page.goto(world.url("/admin/orders"))
    await expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/orders"))
    await expect(page.locator("h1")).to_have_text("Sign in")

    async with world.db.sessions() as session:
        logins = await queries.audit_entries(session, action="login")
    assert [(e.ok, e.note) for e in reversed(logins)] == [(False, "wrong or reused TOTP code"), (True, "")]
