from __future__ import annotations

from tests.api.http.faces.support import API_KEY, Faces
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, api_key_for, make_merchant

SEED_PRECREATE = {"name": "测试商品", "price": "1.00"}


async def precreate(f: Faces, body: dict[str, object] | None = None) -> str:
    resp = await f.client.post("/api/precreate", json=body or SEED_PRECREATE, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["out_trade_no"])


async def test_seed_precreate_example(faces: Faces) -> None:
    resp = await faces.client.post("/api/precreate", json=SEED_PRECREATE, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"success", "out_trade_no", "cashier_url"}
    assert body["success"] is True and isinstance(body["out_trade_no"], str)
    assert body["cashier_url"] == f"http://127.0.0.1:8000/cashier.html?orderId={body['out_trade_no']}"
    order = await faces.order(body["out_trade_no"])
    assert (order.face, order.currency, order.fiat_fen, order.subject) == ("cashier", "CNY", 100, "测试商品")


async def test_price_as_json_number_and_form_body(faces: Faces) -> None:
    resp = await faces.client.post("/api/precreate", content=b'{"name": "a", "price": 0.01}',
                                   headers={**API_KEY, "content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert (await faces.order(resp.json()["out_trade_no"])).fiat_fen == 1
    resp = await faces.client.post("/api/precreate", data={"name": "b", "price": "12.5"}, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    assert (await faces.order(resp.json()["out_trade_no"])).fiat_fen == 1250


async def test_precreate_needs_trusted_network_or_key(faces: Faces) -> None:
    resp = await faces.client.post("/api/precreate", json=SEED_PRECREATE)  # from "testclient": untrusted
    assert resp.status_code == 403 and resp.json()["success"] is False and "X-Api-Key" in resp.json()["msg"]
    wrong = {"X-Api-Key": f"{MERCHANT_PID}:not-the-key"}
    assert (await faces.client.post("/api/precreate", json=SEED_PRECREATE, headers=wrong)).status_code == 403
    unknown = {"Authorization": "Bearer 99999:whatever"}
    assert (
        await faces.client.post("/api/precreate", json=SEED_PRECREATE, headers=unknown)
    ).status_code == 403
    async with faces.loopback() as local:
        resp = await local.post("/api/precreate", json=SEED_PRECREATE)
    assert resp.status_code == 200, resp.text
    order = await faces.order(resp.json()["out_trade_no"])
    assert order.merchant_id == 1  # settings.api.default_pid's merchant


async def test_key_names_another_merchant(faces: Faces, db: Db) -> None:
    other = await make_merchant(db, pid="20002", key="second-merchant-key-0123456789")
    bearer = {"Authorization": f"Bearer 20002:{api_key_for(other.key)}"}
    resp = await faces.client.post("/api/precreate", json=SEED_PRECREATE, headers=bearer)
    assert resp.status_code == 200, resp.text
    assert (await faces.order(resp.json()["out_trade_no"])).merchant_id == other.id


async def test_precreate_bad_inputs_are_400(faces: Faces) -> None:
    for bad in ({"price": "0"}, {"price": "-1"}, {"price": "1.001"}, {"price": True}, {"name": ""},
                {"name": ["x"]}, {"price": None}, {"return_url": "javascript:alert(1)"}):  # fmt: skip
        resp = await faces.client.post("/api/precreate", json={**SEED_PRECREATE, **bad}, headers=API_KEY)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["success"] is False and resp.json()["msg"]
    for content in (b"{", b"[1]", b"\xff", b'{"price": NaN}'):
        resp = await faces.client.post("/api/precreate", content=content,
                                       headers={**API_KEY, "content-type": "application/json"})  # fmt: skip
        assert resp.status_code == 400 and resp.json()["success"] is False, resp.text


async def test_cashier_info_documented_fields(faces: Faces) -> None:
    order_id = await precreate(faces)
    resp = await faces.client.get("/api/cashier_info", params={"orderId": order_id})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    data = body["data"]
    assert data["name"] == "测试商品" and data["price"] == "1.00"
    order = await faces.order(order_id)
    assert data["expire_time"] == int(order.expires_at.timestamp() * 1000)
    assert isinstance(data["logo_url"], str) and data["logo_url"]
    assert data["status"] == "pending" and data["currency"] == "CNY"
    assert data["channels"] == ["wxpay", "alipay", "usdt_trc20", "usdt_erc20"]
    assert "address" not in data


async def test_cashier_info_unknown_and_bad_ids(faces: Faces) -> None:
    resp = await faces.client.get("/api/cashier_info", params={"orderId": "1738155990123"})
    body = resp.json()
    assert resp.status_code == 404 and (body["success"], body["code"]) == (False, "not_found")
    assert set(body) == {"success", "msg", "code", "msg_zh"} and body["msg_zh"].endswith("。")
    for bad in ({}, {"orderId": ""}, {"orderId": "abc"}, {"orderId": "1" * 40}):
        resp = await faces.client.get("/api/cashier_info", params=bad)
        assert resp.status_code == 400 and resp.json()["success"] is False, (bad, resp.text)


async def test_get_pay_params_fiat_pc_and_mobile(faces: Faces) -> None:
    order_id = await precreate(faces)
    resp = await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "wxpay"})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data) == {"payurl", "qrcode", "urlscheme"}
    assert data["qrcode"].startswith("weixin://wxpay/bizpayurl?pr=") and data["payurl"] == ""
    request = faces.channels["wechat"].requests[-1]
    assert request.amount_fen == 100 and request.kind == "qr" and request.subject == "测试商品"
    again = await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "wxpay"})
    assert again.json()["data"] == data and len(faces.channels["wechat"].requests) == 1  # reused
    mobile = await faces.client.post(
        "/api/get_pay_params", json={"orderId": order_id, "type": "alipay", "device": "mobile"}
    )
    # On a phone Alipay answers its app scheme (preferred by seed 000) and the code.
    assert mobile.status_code == 200 and mobile.json()["data"]["urlscheme"].startswith("alipays://")
    assert faces.channels["alipay"].requests[-1].kind == "qr"
    wx_order = await precreate(faces)
    wx_mobile = await faces.client.post(
        "/api/get_pay_params", json={"orderId": wx_order, "type": "wxpay", "device": "mobile"}
    )
    assert wx_mobile.json()["data"]["payurl"].startswith("https://wx.tenpay.com/")
    assert faces.channels["wechat"].requests[-1].kind == "h5"


async def test_get_pay_params_usdt_reserves_unique_amount(faces: Faces) -> None:
    first, second = await precreate(faces), await precreate(faces)
    one = await faces.client.post("/api/get_pay_params", json={"orderId": first, "type": "usdt_trc20"})
    two = await faces.client.post("/api/get_pay_params", json={"orderId": second, "type": "usdt_trc20"})
    a, b = one.json()["data"], two.json()["data"]
    assert a["chain"] == "tron" and a["chain_label"] == "TRC20" and a["address"].startswith("T")
    assert a["qrcode"] == a["address"] and a["urlscheme"] == "" and a["payurl"] == ""
    # 1.00 CNY / 7.20 → 0.14 USDT base; both orders get distinct (address, amount) slots.
    assert a["amount"].startswith("0.14") and (a["address"], a["amount"]) != (b["address"], b["amount"])
    again = await faces.client.post("/api/get_pay_params", json={"orderId": first, "type": "usdt_trc20"})
    assert again.json()["data"] == a
    switch = await faces.client.post("/api/get_pay_params", json={"orderId": first, "type": "usdt_erc20"})
    assert switch.status_code == 400 and "usdt_trc20" in switch.json()["msg"]
    info = (await faces.client.get("/api/cashier_info", params={"orderId": first})).json()["data"]
    assert (info["address"], info["amount"], info["chain"]) == (a["address"], a["amount"], "tron")
    assert info["channels"] == ["usdt_trc20"]


async def test_get_pay_params_errors(faces: Faces) -> None:
    order_id = await precreate(faces)
    cases = [
        ({"orderId": order_id, "type": "paypal"}, 400),
        ({"orderId": order_id, "type": "wxpay", "device": "tv"}, 400),
        ({"orderId": order_id}, 400),
        ({"type": "wxpay"}, 400),
        ({"orderId": "1738155990123", "type": "wxpay"}, 404),
        ({"orderId": "1738155990123", "type": "usdt_trc20"}, 404),
        ({"orderId": ["x"], "type": "wxpay"}, 400),
    ]
    for body, status in cases:
        resp = await faces.client.post("/api/get_pay_params", json=body)
        assert resp.status_code == status and resp.json()["success"] is False, (body, resp.text)
    faces.channels["alipay"].fail_with = "SYSTEM_ERROR"
    resp = await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "alipay"})
    assert resp.status_code == 502 and "SYSTEM_ERROR" in resp.json()["msg"]
    del faces.state.channels["wechat"]
    resp = await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "wxpay"})
    assert resp.status_code == 503 and "USDTPAY_WECHAT__ENABLED" in resp.json()["msg"]


async def test_check_order_unpaid_paid_expired(faces: Faces) -> None:
    order_id = await precreate(faces)
    resp = await faces.client.get("/api/check_order", params={"out_trade_no": order_id})
    assert resp.json() == {
        "success": True,
        "status": 0,
        "msg": "Unpaid",
        "state": "pending",
        "return_url": "",
        "seen": None,  # extras (issue 17): nothing seen on chain yet
        "near_miss": None,
    }
    await faces.client.post("/api/get_pay_params", json={"orderId": order_id, "type": "alipay"})
    await faces.pay_fiat(order_id)
    resp = await faces.client.get("/api/check_order", params={"out_trade_no": order_id})
    body = resp.json()
    assert (body["success"], body["status"], body["msg"]) == (True, 1, "Paid")
    late = await precreate(faces, {"name": "x", "price": "2"})
    faces.clock.advance(minutes=31)
    body = (await faces.client.get("/api/check_order", params={"out_trade_no": late})).json()
    assert (body["status"], body["state"], body["msg"]) == (0, "expired", "Expired")
    resp = await faces.client.post("/api/get_pay_params", json={"orderId": late, "type": "usdt_trc20"})
    assert resp.status_code == 400 and "expired" in resp.json()["msg"]


async def test_check_order_errors(faces: Faces) -> None:
    resp = await faces.client.get("/api/check_order")
    assert resp.status_code == 400 and resp.json()["success"] is False
    resp = await faces.client.get("/api/check_order", params={"out_trade_no": "1738155990123"})
    assert resp.status_code == 404 and resp.json()["success"] is False
