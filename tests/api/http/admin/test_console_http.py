"""The console over HTTP (no browser): sign-in rate limit, headers, bad
input answered without a 500, htmx fragments, the separate listener, and
`usdtpay admin add`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.cli import main
from api.http.admin.routes import create_admin_app
from api.http.app import create_app
from engine.admin import queries, service, totp
from engine.config_admin import AdminSettings
from tests.api.support import test_settings as console_settings
from tests.dbharness import Db
from tests.factories import make_merchant

PASSWORD = "correct horse battery staple"


async def add(db: Db, name: str = "alice", role: str = "operator") -> service.NewAccount:
    async with db.sessions() as session:
        new = await service.add_account(session, name, PASSWORD, role, datetime.now(UTC))
        await session.commit()
        return new


@pytest.fixture
async def console(db: Db) -> AsyncIterator[AsyncTestClient[Any]]:
    await make_merchant(db)
    app = create_app(console_settings(db, admin=AdminSettings(login_attempts=3)))
    async with AsyncTestClient(app=app, base_url="https://usdtpay.test") as client:
        yield client


def wrong_code(secret: str) -> str:
    """Six digits that are no code of the current, previous or next step."""
    near = {totp.code_at(secret, datetime.now(UTC) + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(client: AsyncTestClient[Any], new: service.NewAccount, code: str | None = None) -> Any:
    page = await client.get("/admin/login")
    fields = {
        "csrf": form_token(page.text),
        "username": new.account.username,
        "password": PASSWORD,
        "code": code or totp.code_at(new.totp_secret, datetime.now(UTC)),
        "next": "/admin/orders",
    }
    return await client.post("/admin/login", data=fields, follow_redirects=False)


async def test_sign_in_sets_a_strict_cookie_and_pages_carry_security_headers(
    console: AsyncTestClient[Any], db: Db
) -> None:
    new = await add(db)
    answer = await sign_in(console, new)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/orders"
    cookie = answer.headers["set-cookie"].lower()
    for part in ("usdtpay_admin=", "httponly", "secure", "samesite=strict", "path=/admin", "max-age=28800"):
        assert part in cookie
    page = await console.get("/admin/orders")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    fragment = await console.get("/admin/orders?q=nothing", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "no order found" in fragment.text


async def test_sign_in_is_rate_limited_per_username(console: AsyncTestClient[Any], db: Db) -> None:
    new = await add(db)
    for _ in range(3):
        refused = await sign_in(console, new, code=wrong_code(new.totp_secret))
        assert refused.status_code == 403
    limited = await sign_in(console, new)  # the right code, but too many tries
    assert limited.status_code == 429 and "Too many attempts" in limited.text
    async with db.sessions() as session:
        entries = await queries.audit_entries(session, action="login")
    assert [e.note for e in entries][:1] == ["rate limited"] and not any(e.ok for e in entries)


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("get", "/admin/orders/notanumber", None),
        ("get", "/admin/orders/99999", None),
        ("post", "/admin/transfers/1/credit", {"order_id": "x", "note": "a reason"}),
        ("post", "/admin/transfers/12345/refund", {"note": "a reason"}),
        ("post", "/admin/wallets", {"chain": "doge", "address": "x"}),
        ("post", "/admin/wallets/abc/disable", {}),
        ("post", "/admin/merchants/nobody/rotate", {}),
        ("post", "/admin/orders/1/supplement", {"tx_hash": "not-a-hash"}),
        ("post", "/admin/notifications/77/give-up", {}),
    ],
)
async def test_bad_input_never_answers_500(
    console: AsyncTestClient[Any], db: Db, method: str, path: str, fields: dict[str, str] | None
) -> None:
    new = await add(db)
    await sign_in(console, new)
    page = await console.get("/admin/")
    if method == "get":
        answer = await console.get(path, follow_redirects=False)
    else:
        data = {**(fields or {}), "csrf": form_token(page.text)}
        answer = await console.post(path, data=data, follow_redirects=False)
    assert answer.status_code < 500, answer.text[:300]
    if answer.status_code == 303:
        assert "error=" in answer.headers["location"]


async def test_the_separate_listener_serves_the_console_and_the_api_does_not(db: Db) -> None:
    await add(db)
    settings = console_settings(db, admin=AdminSettings(bind="127.0.0.1:8001"))
    async with AsyncTestClient(app=create_app(settings)) as api:
        assert (await api.get("/admin/login")).status_code == 404
    async with AsyncTestClient(app=create_admin_app(settings)) as console:
        assert (await console.get("/admin/login")).status_code == 200
        assert (await console.get("/api/pay/query")).status_code == 404


def test_cli_admin_add_prints_the_totp_secret_once(
    db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    monkeypatch.setenv("USDTPAY_ADMIN__TOTP_KEY", "a-test-totp-sealing-key")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admin", "add", "sam", "--role", "support", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"secret: ([A-Z2-7]{32})", out)
    assert secret and "otpauth://totp/usdtpay%3Asam?" in out and PASSWORD not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin", "add", "bob", "--password-stdin"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert main(["admin", "list"]) == 0
    assert "sam\tsupport\tenabled" in capsys.readouterr().out


async def due_notification(db: Db, order: Any) -> int:
    """A notification still due for `order` (one to give up)."""
    from engine.models import Notification

    now = datetime.now(UTC)
    row = Notification(
        delivery_id="d-1",
        order_id=order.id,
        merchant_id=order.merchant_id,
        scheme="usdt",
        event="paid",
        url="https://merchant.example/n",
        body="{}",
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    async with db.sessions() as session:
        session.add(row)
        await session.commit()
        return row.id


async def test_close_give_up_and_disable_merchant_are_audited(console: AsyncTestClient[Any], db: Db) -> None:
    from engine.models import Notification, Order
    from tests.factories import MERCHANT_PID, make_order, make_wallets, signed

    await make_wallets(db, "eth", 1)
    order = await make_order(db)
    notification_id = await due_notification(db, order)
    await sign_in(console, await add(db))
    token = form_token((await console.get("/admin/")).text)
    note = {"csrf": token, "note": "customer cancelled by phone"}
    closed = await console.post(f"/admin/orders/{order.id}/close", data=note, follow_redirects=False)
    assert closed.status_code == 303 and "ok=" in closed.headers["location"]
    gave_up = await console.post(
        f"/admin/notifications/{notification_id}/give-up", data={"csrf": token}, follow_redirects=False
    )
    assert gave_up.status_code == 303 and "ok=" in gave_up.headers["location"]
    off = await console.post(
        f"/admin/merchants/{MERCHANT_PID}/disable", data={"csrf": token}, follow_redirects=False
    )
    assert off.status_code == 303 and "ok=" in off.headers["location"]
    query = await console.get(
        "/api/pay/query", params=signed({"pid": MERCHANT_PID, "order_no": order.merchant_order_no})
    )
    assert query.status_code == 403  # a disabled merchant is unknown to the faces
    async with db.sessions() as session:
        assert (await session.get(Order, order.id)).status == "closed"  # type: ignore[union-attr]
        assert (await session.get(Notification, notification_id)).status == "failed"  # type: ignore[union-attr]
        entries = {e.action: e for e in await queries.audit_entries(session)}
    assert entries["close_order"].before == {"status": "pending", "paid_at": None, "tx_hash": None}
    assert entries["close_order"].after["status"] == "closed"  # type: ignore[index]
    assert entries["close_order"].note == "customer cancelled by phone"
    assert entries["give_up"].after == {"notification": notification_id, "status": "failed"}
    assert entries["disable_merchant"].before == {"enabled": True}
