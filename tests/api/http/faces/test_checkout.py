from __future__ import annotations

from typing import Any

from tests.api.http.faces.support import API_KEY, Faces
from tests.factories import MERCHANT_PID

INFO_FIELDS = {
    "subject": str,
    "out_order_id": str,
    "order_id": str,
    "status": int,
    "amount": int,
    "trade_amount": int,
    "expire_time": int,
    "pay_type": str,
    "pay_type_text": str,
    "create_time": str,
    "return_uri": str,
    "pay_type_logo": str,
    "content": str,
    "service_qq": str,
    "pay_tip": str,
    "pay_payed_wait_time": int,
    "pay_account_tip": dict,
}


async def dryad_order(f: Faces, biz: str = "EXT20240601") -> dict[str, Any]:
    body = {
        "bizOrderId": biz,
        "amount": 1000,
        "subject": "商品购买",
        "callbackUrl": "https://93.184.216.34/n",
    }
    resp = await f.client.post("/api/pay/alipay/precreate", json=body, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def test_info_by_order_id_has_documented_fields(faces: Faces) -> None:
    created = await dryad_order(faces)
    resp = await faces.client.post(
        "/api/order/info?_time=1747275686000", json={"order_id": str(created["orderId"])}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    data = resp.json()
    for name, kind in INFO_FIELDS.items():
        assert isinstance(data[name], kind), name
    assert data["order_id"] == str(created["orderId"]) and data["out_order_id"] == "EXT20240601"
    assert (data["status"], data["amount"], data["trade_amount"]) == (1, 1000, 1000)
    assert (data["pay_type"], data["pay_type_text"]) == ("alipay", "支付宝")
    order = await faces.order(created["orderId"])
    assert data["expire_time"] == int(order.expires_at.timestamp())
    assert data["return_uri"] == ""  # only once paid
    assert set(data["pay_account_tip"]) == {"tip", "tip_cover"}


async def test_info_by_out_order_id_and_pid_json_and_form(faces: Faces) -> None:
    created = await dryad_order(faces)
    # By merchant order number only with the merchant's key (issue 12).
    by_json = await faces.client.post(
        "/api/order/info", json={"out_order_id": "EXT20240601", "pid": 10001}, headers=API_KEY
    )
    by_form = await faces.client.post(
        "/api/order/info", data={"out_order_id": "EXT20240601", "pid": MERCHANT_PID}, headers=API_KEY
    )
    assert by_json.status_code == by_form.status_code == 200, (by_json.text, by_form.text)
    assert by_json.json()["order_id"] == by_form.json()["order_id"] == str(created["orderId"])


async def test_status_codes_follow_the_order(faces: Faces) -> None:
    created = await dryad_order(faces)
    body = {"order_id": str(created["orderId"])}
    resp = await faces.client.post("/api/order/status", json=body)
    data = resp.json()
    seed = {"status", "expire_time", "return_uri", "is_auto_open", "pay_payed_wait_time"}
    assert set(data) == seed | {"seen", "near_miss"}  # documented extras (issue 17)
    assert (data["status"], data["is_auto_open"], data["pay_payed_wait_time"]) == (1, 1, 5)
    assert resp.headers["cache-control"] == "no-store"
    await faces.pay_fiat(created["orderId"])
    assert (await faces.client.post("/api/order/status", json=body)).json()["status"] == 2
    other = await dryad_order(faces, "EXT2")
    faces.clock.advance(hours=3)
    resp = await faces.client.post("/api/order/status", data={"order_id": str(other["orderId"])})
    assert resp.json()["status"] == 4


async def test_qrcode_for_fiat_and_usdt_orders(faces: Faces) -> None:
    created = await dryad_order(faces)
    resp = await faces.client.post("/api/order/qrcode", json={"order_id": str(created["orderId"])})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["type"] == "alipay" and data["qrcode_data"].startswith("https://qr.alipay.com/bax")
    assert data["qrcode"].startswith("http://127.0.0.1:8000/api/qr.svg?data=")
    assert data["scheme"].startswith("alipays://") and data["actual_amount"] == "10.00"
    precreated = await faces.client.post("/api/precreate", json={"name": "n", "price": "3"}, headers=API_KEY)
    order_id = precreated.json()["out_trade_no"]
    none_yet = await faces.client.post("/api/order/qrcode", json={"order_id": order_id})
    assert none_yet.status_code == 404 and none_yet.json()["code"] == 404
    usdt = (
        await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "usdt_erc20"})
    ).json()
    data = (await faces.client.post("/api/order/qrcode", json={"order_id": order_id})).json()
    assert data["type"] == "usdt_erc20" and data["qrcode_data"] == usdt["data"]["address"]
    assert (data["actual_amount"], data["actual_account"]) == (
        usdt["data"]["amount"],
        usdt["data"]["address"],
    )


async def test_qrcode_refuses_out_order_id(faces: Faces) -> None:
    await dryad_order(faces)
    resp = await faces.client.post("/api/order/qrcode", json={"out_order_id": "EXT20240601", "pid": "10001"})
    assert resp.status_code == 400 and resp.json()["code"] == 400 and "order_id" in resp.json()["msg"]


async def test_audio_disabled_by_default_and_templated_when_enabled(faces: Faces) -> None:
    created = await dryad_order(faces)
    body = {"order_id": str(created["orderId"])}
    resp = await faces.client.post("/api/order/audio", json=body)
    assert resp.json() == {"audio_enable": 0, "audio_url": "", "audio_content": ""}
    cfg = faces.state.settings.checkout
    cfg.audio_enabled = True
    cfg.audio_url_template = "https://tts.example.com/say?text={content}&o={order_id}"
    data = (await faces.client.post("/api/order/audio", json=body)).json()
    assert data["audio_enable"] == 1 and data["audio_content"] == "收款10.00元,来自支付宝"
    assert data["audio_url"].startswith("https://tts.example.com/say?text=%E6%94%B6")
    assert data["audio_url"].endswith(f"&o={created['orderId']}")
    cfg.audio_content_template = "{nope}"
    resp = await faces.client.post("/api/order/audio", json=body)
    assert resp.status_code == 400 and "placeholder" in resp.json()["msg"]


async def test_error_cases_use_code_msg_envelope(faces: Faces) -> None:
    cases: list[tuple[dict[str, Any] | bytes, int]] = [
        ({}, 400),
        ({"out_order_id": "EXT"}, 400),
        ({"pid": "10001"}, 400),
        ({"order_id": "abc"}, 400),
        ({"order_id": ["1"]}, 400),
        ({"order_id": True}, 400),
        ({"order_id": "1738155990123"}, 404),
        ({"out_order_id": "nope", "pid": "10001"}, 403),  # without the merchant's key
        ({"out_order_id": "nope", "pid": "77777"}, 403),
        (b"{", 400),
        (b"[]", 400),
    ]
    for path in ("/api/order/info", "/api/order/audio", "/api/order/status"):
        for body, status in cases:
            if isinstance(body, bytes):
                resp = await faces.client.post(
                    path, content=body, headers={"content-type": "application/json"}
                )
            else:
                resp = await faces.client.post(path, json=body)
            assert resp.status_code == status, (path, body, resp.text)
            assert resp.json()["code"] == status and resp.json()["msg"]
            assert resp.headers["cache-control"] == "no-store"
    keyed = await faces.client.post("/api/order/info", json={"out_order_id": "nope", "pid": "10001"},
                                    headers=API_KEY)  # fmt: skip
    assert keyed.status_code == 404 and keyed.json()["code"] == 404
    resp = await faces.client.get("/api/order/info")
    assert resp.status_code == 405  # Litestar answers wrong methods before any face handler runs
