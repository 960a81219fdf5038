from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.models import ChainCursor, ChannelPayment
from tests.api.http.faces.support import API_KEY, Faces

SEED_WECHAT = {
    "bizOrderId": "ORDER20251123001",
    "amount": 10000,
    "subject": "商品订单支付",
    "description": "购买商品A×1",
    "callbackUrl": "https://your-domain.com/notify",
}
SEED_ALIPAY = {**SEED_WECHAT, "bizOrderId": "ORDER20251123002", "description": "购买商品B×1"}
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


async def create(f: Faces, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await f.client.post(path, json=body, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    payload: dict[str, Any] = resp.json()
    return payload


async def test_seed_wechat_native_example(faces: Faces) -> None:
    body = await create(faces, "/api/pay/wechat/native", SEED_WECHAT)
    assert body["code"] == 200 and body["msg"] == "操作成功"
    data = body["data"]
    assert set(data) == {"orderId", "transactionId", "status", "qrBase64", "expireAt"}
    assert isinstance(data["orderId"], int) and 0 < data["orderId"] < 2**53
    assert isinstance(data["transactionId"], int) and data["transactionId"] < 2**53
    assert data["status"] == "PENDING"
    prefix = "data:image/png;base64,"
    assert data["qrBase64"].startswith(prefix)
    assert base64.b64decode(data["qrBase64"][len(prefix) :]).startswith(b"\x89PNG")
    order = await faces.order(data["orderId"])
    assert (order.face, order.channel, order.fiat_fen, order.notify_url) == (
        "dryad",
        "wechat",
        10000,
        "https://your-domain.com/notify",
    )
    assert order.expires_at - order.created_at == timedelta(hours=2)
    local = order.expires_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert data["expireAt"] == local
    sent = faces.channels["wechat"].requests[-1]
    assert (sent.amount_fen, sent.kind, sent.out_trade_no) == (10000, "qr", str(data["transactionId"]))


async def test_seed_alipay_precreate_and_retry_is_idempotent(faces: Faces) -> None:
    first = (await create(faces, "/api/pay/alipay/precreate", SEED_ALIPAY))["data"]
    again = (await create(faces, "/api/pay/alipay/precreate", SEED_ALIPAY))["data"]
    assert again == first and len(faces.channels["alipay"].requests) == 1
    clash = await faces.client.post(
        "/api/pay/alipay/precreate", json={**SEED_ALIPAY, "amount": 1}, headers=API_KEY
    )
    assert clash.status_code == 400 and clash.json()["code"] == 400 and clash.json()["data"] is None


async def test_order_query_documented_fields_before_and_after_payment(faces: Faces) -> None:
    created = (await create(faces, "/api/pay/wechat/native", SEED_WECHAT))["data"]
    resp = await faces.client.get(f"/api/pay/orders/{created['orderId']}")
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data) == {"id", "bizOrderId", "amount", "currency", "channel", "status", "subject",
                         "channelTradeNo", "paidAt", "expireAt", "createdAt"}  # fmt: skip
    assert (data["id"], data["bizOrderId"], data["amount"]) == (created["orderId"], "ORDER20251123001", 10000)
    assert (data["currency"], data["channel"], data["status"]) == ("CNY", "WECHAT", "PENDING")
    assert (
        data["paidAt"] is None and TIME.match(data["createdAt"]) and data["expireAt"] == created["expireAt"]
    )
    await faces.pay_fiat(created["orderId"], "4200001234567890")
    anonymous = (await faces.client.get(f"/api/pay/orders/{created['orderId']}")).json()["data"]
    assert (anonymous["status"], anonymous["channelTradeNo"]) == ("SUCCEEDED", None)  # issue 12
    data = (await faces.client.get(f"/api/pay/orders/{created['orderId']}", headers=API_KEY)).json()["data"]
    assert (data["status"], data["channelTradeNo"]) == ("SUCCEEDED", "4200001234567890")
    assert TIME.match(data["paidAt"])


async def test_latest_transaction(faces: Faces) -> None:
    created = (await create(faces, "/api/pay/wechat/native", SEED_WECHAT))["data"]
    path = f"/api/pay/orders/{created['orderId']}/transactions/latest"
    assert (await faces.client.get(path)).json()["data"]["id"] is None  # the merchant's only (issue 12)
    resp = await faces.client.get(path, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data) == {"id", "orderId", "channel", "clientType", "status", "qrBase64", "createdAt"}
    assert (data["id"], data["orderId"]) == (created["transactionId"], created["orderId"])
    assert (data["channel"], data["clientType"], data["status"]) == ("WECHAT", "NATIVE", "PENDING")
    assert data["qrBase64"] == created["qrBase64"]


async def test_status_mapping_init_expired_canceled(faces: Faces) -> None:
    precreated = await faces.client.post("/api/precreate", json={"name": "x", "price": "1"}, headers=API_KEY)
    order_id = precreated.json()["out_trade_no"]
    assert (await faces.client.get(f"/api/pay/orders/{order_id}")).json()["data"]["status"] == "INIT"
    latest = await faces.client.get(f"/api/pay/orders/{order_id}/transactions/latest")
    assert latest.status_code == 404 and latest.json()["code"] == 404
    created = (await create(faces, "/api/pay/wechat/native", SEED_WECHAT))["data"]
    async with faces.db.sessions() as session:
        order = await session.get(type(await faces.order(created["orderId"])), created["orderId"])
        assert order is not None
        order.status = "closed"
        await session.commit()
    assert (await faces.client.get(f"/api/pay/orders/{created['orderId']}")).json()["data"][
        "status"
    ] == "CANCELED"
    faces.clock.advance(hours=3)
    assert (await faces.client.get(f"/api/pay/orders/{order_id}")).json()["data"]["status"] == "EXPIRED"


async def test_channel_failure_is_seed_500_and_payment_marked_failed(faces: Faces) -> None:
    faces.channels["wechat"].fail_with = "SYSTEMERROR"
    resp = await faces.client.post("/api/pay/wechat/native", json=SEED_WECHAT, headers=API_KEY)
    assert resp.status_code == 500
    body = resp.json()
    assert body["code"] == 500 and body["msg"].startswith("支付创建失败: ") and body["data"] is None
    async with faces.db.sessions() as session:
        payment = (await session.scalars(select(ChannelPayment))).one()
    assert payment.status == "failed"


async def test_create_errors(faces: Faces) -> None:
    cases: list[dict[str, Any]] = [
        {"amount": "100.5"},
        {"amount": 0},
        {"amount": -5},
        {"amount": True},
        {"amount": 10**13},
        {"bizOrderId": ""},
        {"bizOrderId": "x" * 65},
        {"subject": None},
        {"callbackUrl": None},
        {"callbackUrl": "ftp://example.com/x"},
        {"callbackUrl": "http://127.0.0.1:8080/notify"},
        {"subject": {"a": 1}},
    ]
    for bad in cases:
        resp = await faces.client.post("/api/pay/wechat/native", json={**SEED_WECHAT, **bad}, headers=API_KEY)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["code"] == 400 and resp.json()["data"] is None
    resp = await faces.client.post("/api/pay/wechat/native", json=SEED_WECHAT)
    assert resp.status_code == 403 and resp.json()["code"] == 403
    resp = await faces.client.post(
        "/api/pay/wechat/native", content=b"not json", headers={**API_KEY, "content-type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json()["code"] == 400


async def test_query_errors(faces: Faces) -> None:
    for path, status in (
        ("/api/pay/orders/1234567890", 404),
        ("/api/pay/orders/abc", 400),
        ("/api/pay/orders/99999999999999999999", 400),
        ("/api/pay/orders/1234567890/transactions/latest", 404),
        ("/api/pay/orders/-1/transactions/latest", 400),
    ):
        resp = await faces.client.get(path)
        assert resp.status_code == status, (path, resp.text)
        assert resp.json()["code"] == status and resp.json()["data"] is None


async def test_health_reports_parts(faces: Faces) -> None:
    resp = await faces.client.get("/api/health")
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["status"] == "UP" and data["service"] == "usdtpay" and TIME.match(data["time"])
    assert data["database"]["status"] == "UP" and data["rate"]["status"] == "UP"
    assert data["watchers"] == {"status": "UP", "chains": {}}
    faces.state.settings.tron.enabled = True
    data = (await faces.client.get("/api/health")).json()["data"]
    assert data["status"] == "DEGRADED" and data["watchers"]["chains"]["tron"]["status"] == "DOWN"
    async with faces.db.sessions() as session:
        session.add(ChainCursor(chain="tron", next_block=100, head=120, updated_at=faces.clock.now()))
        await session.commit()
    data = (await faces.client.get("/api/health")).json()["data"]
    assert data["status"] == "UP" and data["watchers"]["chains"]["tron"]["next_block"] == 100
    faces.clock.advance(minutes=10)
    data = (await faces.client.get("/api/health")).json()["data"]
    assert data["status"] == "DEGRADED" and "watchers" in data["message"]


async def test_health_down_when_database_is_gone(faces: Faces) -> None:
    await faces.state.engine.dispose()
    from engine.db import create_engine, create_session_factory

    broken = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    faces.state.sessions = create_session_factory(broken)
    resp = await faces.client.get("/api/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["code"] == 500 and body["data"]["status"] == "DOWN" and "USDTPAY_DATABASE_URL" in body["msg"]
    await broken.dispose()
