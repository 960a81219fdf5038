"""The usdt face's errors name the real problem and what to do about it."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from api.http.app import create_app
from tests.api.support import test_settings
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, signed

ORDER = {"pid": "10001", "chain_type": 1, "order_no": "ERR-1", "amount": "10.00"}


async def test_json_body_sent_as_a_form_says_so(client: AsyncTestClient[Any]) -> None:
    # curl -d '{...}' sends Content-Type: application/x-www-form-urlencoded.
    resp = await client.post(
        "/api/pay/create",
        content=b'{"pid": "10001", "amount": "1.00"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 415
    msg = resp.json()["msg"]
    assert "JSON" in msg and "Content-Type: application/json" in msg


async def test_missing_signature_says_missing(client: AsyncTestClient[Any]) -> None:
    resp = await client.post("/api/pay/create", json=ORDER)
    assert resp.status_code == 403
    assert resp.json()["msg"].startswith("signature is missing")


async def test_wrong_signature_says_wrong(client: AsyncTestClient[Any]) -> None:
    resp = await client.post("/api/pay/create", json={**ORDER, "signature": "0" * 32})
    assert resp.status_code == 403
    assert resp.json()["msg"].startswith("signature does not match")


async def test_missing_pid_says_missing(client: AsyncTestClient[Any]) -> None:
    resp = await client.post("/api/pay/create", json={"amount": "1.00"})
    assert resp.status_code == 403
    assert resp.json()["msg"] == "pid is missing: send your merchant id"


async def test_amount_above_the_maximum_says_too_large(client: AsyncTestClient[Any]) -> None:
    fields = {**ORDER, "currency": "USDT", "amount": "2000000.00"}
    resp = await client.post("/api/pay/create", json=signed(fields))
    assert resp.status_code == 422
    assert "too large" in resp.json()["msg"]
    assert "1000000" in resp.json()["msg"]


async def test_cny_order_without_a_rate_says_retry_later(db: Db) -> None:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    settings = test_settings(db).model_copy(update={"rate_fixed": None})
    async with AsyncTestClient(app=create_app(settings)) as client:
        resp = await client.post("/api/pay/create", json=signed(ORDER))
        usdt = await client.post(
            "/api/pay/create", json=signed({**ORDER, "order_no": "ERR-2", "currency": "USDT"})
        )
    assert resp.status_code == 503
    msg = resp.json()["msg"]
    assert "retry" in msg and "later" in msg
    # Operator advice (commands, settings) belongs in the logs, not in the merchant's answer.
    assert "usdtpay" not in msg and "refresher" not in msg
    assert usdt.status_code == 200, usdt.text
