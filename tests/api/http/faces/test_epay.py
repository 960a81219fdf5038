"""The epay face's create side from a shop's point of view: submit.php and
mapi.php signed by the shop's own EPay signer (tests/fakes/epay_client.py),
every type and device, extra fields, the &key= variant, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from api.http.faces import common
from engine.models import Order
from tests.api.http.faces.epay_support import RETURN, mapi, order_id_of, params, submit
from tests.api.http.faces.support import Faces, start_faces
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY
from tests.fakes.epay_client import signed


async def count_orders(f: Faces) -> int:
    async with f.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_submit_redirects_to_the_cashier_page(faces: Faces, method: str) -> None:
    resp = await submit(faces, params(), method=method)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith("http://127.0.0.1:8000/cashier.html?orderId=")
    order = await faces.order(order_id_of(location))
    assert (order.face, order.currency, order.fiat_fen, order.channel) == ("epay", "CNY", 100, "alipay")
    assert order.merchant_order_no == "EP20240101001" and order.subject == "VIP会员 1个月"
    # The browser comes back through usdtpay's relay, never straight to the shop.
    assert order.return_url.startswith("http://127.0.0.1:8000/epay/return?pid=10001&out_trade_no=")
    assert order.extra["epay"]["return_url"] == RETURN and order.extra["offer"] == ["alipay"]


async def test_the_cashier_offers_only_the_type_asked_for(faces: Faces) -> None:
    location = (await submit(faces, params(type="alipay"))).headers["location"]
    order_id = order_id_of(location)
    info = (await faces.client.get("/api/cashier_info", params={"orderId": str(order_id)})).json()
    assert info["data"]["channels"] == ["alipay"]
    refused = await faces.client.post("/api/get_pay_params", json={"orderId": str(order_id), "type": "wxpay"})
    assert refused.status_code == 400 and "alipay" in refused.json()["msg"]


async def test_a_repeated_submit_is_the_same_order_and_other_parameters_are_refused(faces: Faces) -> None:
    first = await submit(faces, params())
    again = await submit(faces, params())
    assert again.status_code == 302 and again.headers["location"] == first.headers["location"]
    for change in ({"money": "2.00"}, {"name": "另一个"}, {"type": "wxpay"}, {"param": "x"}, {"extra": "1"}):
        resp = await submit(faces, params(**change))
        assert resp.status_code == 409, (change, resp.text)
        assert "text/html" in resp.headers["content-type"] and "EP20240101001" in resp.text
        answer = await mapi(faces, params(**change))
        assert answer["code"] == -1 and "already exists" in answer["msg"]
    assert await count_orders(faces) == 1


async def test_submit_errors_are_an_html_page(faces: Faces) -> None:
    bad = signed(params(), MERCHANT_KEY) | {"money": "9.99"}
    resp = await faces.client.get("/submit.php", params=bad, follow_redirects=False)
    assert resp.status_code == 403 and "签名校验失败" in resp.text
    assert "text/html" in resp.headers["content-type"] and MERCHANT_KEY not in resp.text
    resp = await submit(faces, params(name='<script>alert("x")</script>'))
    assert resp.status_code == 302  # a name is just text...
    resp = await submit(faces, params(out_trade_no="<b>bad</b>"))
    assert resp.status_code == 400 and "<b>" not in resp.text and "&lt;b&gt;" in resp.text  # ...and escaped


PC_ANSWERS = {
    "alipay": ("qrcode", "https://qr.alipay.com/bax"),
    "wxpay": ("qrcode", "weixin://wxpay/bizpayurl"),
}
MOBILE_ANSWERS = {
    "alipay": ("payurl", "https://openapi.alipay.com/gateway.do"),
    "wxpay": ("payurl", "https://wx.tenpay.com/"),
}


@pytest.mark.parametrize("pay_type", ["alipay", "wxpay"])
@pytest.mark.parametrize("device", ["", "pc", "mobile", "wechat", "qq", "alipay", "tv"])
async def test_mapi_fiat_answers_by_device(faces: Faces, pay_type: str, device: str) -> None:
    fields = params(type=pay_type, clientip="203.0.113.7", device=device or None)
    answer = await mapi(faces, fields)
    assert answer["code"] == 1, answer
    order = await faces.order(answer["trade_no"])
    assert order.channel == {"alipay": "alipay", "wxpay": "wechat"}[pay_type]
    if device in ("", "pc", "tv"):
        expected = PC_ANSWERS[pay_type]
    elif device == "mobile" or (device == "alipay" and pay_type == "alipay"):
        expected = MOBILE_ANSWERS[pay_type]
    else:  # inside WeChat / QQ (or wxpay inside Alipay): the cashier page
        expected = ("payurl", f"http://127.0.0.1:8000/cashier.html?orderId={order.id}")
    field, prefix = expected
    assert set(answer) == {"code", "msg", "trade_no", field}
    assert answer[field].startswith(prefix)
    channel = faces.channels[order.channel or ""]
    if field != "payurl" or not answer[field].startswith("http://127.0.0.1"):
        [asked] = channel.requests
        assert asked.amount_fen == 100 and asked.client_ip == "203.0.113.7"


@pytest.mark.parametrize(
    ("pay_type", "chain"),
    [("usdt.trc20", "tron"), ("trc20", "tron"), ("USDT.ERC20", "eth"), ("erc20", "eth"), ("usdt", "tron")],
)
async def test_mapi_usdt_types_reserve_on_their_chain(faces: Faces, pay_type: str, chain: str) -> None:
    answer = await mapi(faces, params(type=pay_type, money="72.00"))
    assert answer["code"] == 1, answer
    order = await faces.order(answer["trade_no"])
    assert answer["payurl"] == f"http://127.0.0.1:8000/cashier.html?orderId={order.id}"
    # 72.00 CNY at 7.20 CNY/USDT is 10 USDT, plus the unique fraction.
    assert order.chain == chain and order.usdt_units == 10_000_001 and order.fiat_fen == 7200
    info = (await faces.client.get("/api/cashier_info", params={"orderId": str(order.id)})).json()["data"]
    assert info["amount"] == "10.000001" and info["channels"] == [common.USDT_TYPE[chain]]


@pytest.mark.parametrize("pay_type", ["", "qqpay", "bank"])
async def test_empty_or_unknown_type_lets_the_payer_pick(faces: Faces, pay_type: str) -> None:
    answer = await mapi(faces, params(type=pay_type or None))
    assert answer["code"] == 1, answer
    order = await faces.order(answer["trade_no"])
    assert order.chain is None and order.channel is None
    info = (await faces.client.get("/api/cashier_info", params={"orderId": str(order.id)})).json()["data"]
    assert info["channels"] == ["wxpay", "alipay", "usdt_trc20", "usdt_erc20"]


async def test_cashier_choices_and_usdt_chain_are_settings(db: Db) -> None:
    epay = {"cashier_choices": ["usdt.erc20", "alipay"], "usdt_chain": "pick"}
    async for f in start_faces(db, epay=epay):
        for pay_type, offered in (("", ["alipay", "usdt_erc20"]), ("usdt", ["usdt_trc20", "usdt_erc20"])):
            answer = await mapi(f, params(type=pay_type, out_trade_no=f"C{len(pay_type)}"))
            info = await f.client.get("/api/cashier_info", params={"orderId": answer["trade_no"]})
            assert info.json()["data"]["channels"] == offered


async def test_every_field_sent_counts_in_the_signature(faces: Faces) -> None:
    extras = {"clientip": "198.51.100.1", "device": "pc", "sitename": "店", "coupon": "VIP 8折", "x-y": "1"}
    answer = await mapi(faces, params(**extras))
    assert answer["code"] == 1, answer
    tampered = signed(params(**extras), MERCHANT_KEY) | {"coupon": "VIP 5折"}
    resp = await faces.client.post("/mapi.php", data=tampered)
    assert resp.json()["code"] == -2
    dropped = signed(params(**extras), MERCHANT_KEY)
    del dropped["coupon"]
    assert (await faces.client.post("/mapi.php", data=dropped)).json()["code"] == -2


async def test_sign_letter_case_and_json_bodies(faces: Faces) -> None:
    body = signed(params(out_trade_no="UP1"), MERCHANT_KEY)
    body["sign"] = body["sign"].upper()
    assert (await faces.client.post("/mapi.php", data=body)).json()["code"] == 1
    body = signed(params(out_trade_no="JS1"), MERCHANT_KEY)
    assert (await faces.client.post("/mapi.php", json=body)).json()["code"] == 1
    multipart = signed(params(out_trade_no="MP1"), MERCHANT_KEY)
    resp = await faces.client.post("/mapi.php", files={k: (None, v) for k, v in multipart.items()})
    assert resp.json()["code"] == 1, resp.text


@pytest.fixture(params=["key", "either"])
async def key_mode(db: Db, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Faces, str]]:
    async for f in start_faces(db, epay={"sign_mode": request.param}):
        yield f, str(request.param)


async def test_the_key_variant_is_a_setting(key_mode: tuple[Faces, str]) -> None:
    f, setting = key_mode
    answer = await mapi(f, params(out_trade_no="K1"), mode="key")
    assert answer["code"] == 1, answer
    order = await f.order(answer["trade_no"])
    assert order.extra["epay"]["sign_mode"] == "key"
    plain = await mapi(f, params(out_trade_no="K2"), mode="plain")
    assert plain["code"] == (1 if setting == "either" else -2)


async def test_plain_is_the_default_and_refuses_the_key_variant(faces: Faces) -> None:
    assert (await mapi(faces, params(), mode="key"))["code"] == -2


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"pid": "99999"}, -3, "PID"),
        ({"pid": None}, -3, "PID"),
        ({"sign_type": "RSA"}, -1, "sign_type"),
        ({"money": "abc"}, -1, "money"),
        ({"money": "0.00"}, -1, "money"),
        ({"money": "1.001"}, -1, "money"),
        ({"out_trade_no": None}, -1, "out_trade_no"),
        ({"notify_url": None}, -1, "notify_url"),
        ({"notify_url": "http://10.0.0.1/notify"}, -1, "notify_url"),
        ({"return_url": "javascript:alert(1)"}, -1, "return_url"),
        ({"name": None}, -1, "name"),
    ],
)
async def test_refusals_in_epay_shape(faces: Faces, change: dict[str, Any], code: int, words: str) -> None:
    fields = params(**change)
    if change.get("sign_type"):
        body = signed(fields, MERCHANT_KEY) | {"sign_type": change["sign_type"]}
    else:
        body = signed(fields, MERCHANT_KEY)
    resp = await faces.client.post("/mapi.php", data=body)
    assert resp.status_code == 200 and set(resp.json()) == {"code", "msg"}
    assert resp.json()["code"] == code and words in resp.json()["msg"], resp.json()
    assert await count_orders(faces) == 0


async def test_bad_signature_creates_nothing(faces: Faces) -> None:
    body = signed(params(), "not-the-merchant-key")
    assert (await faces.client.post("/mapi.php", data=body)).json()["code"] == -2
    body = signed(params(), MERCHANT_KEY) | {"sign": ""}
    assert (await faces.client.post("/mapi.php", data=body)).json()["code"] == -2
    assert await count_orders(faces) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"pid=10001&pid=10002", "application/x-www-form-urlencoded"),
        (b"\xff\xfe=\x00", "application/x-www-form-urlencoded"),
        (b"[" * 5000, "application/json"),
        (b'{"pid": {"a": 1}}', "application/json"),
        (b"name=" + b"x" * 70_000, "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        ("&".join(f"f{i}=1" for i in range(100)).encode(), "application/x-www-form-urlencoded"),
    ],
)
async def test_bad_input_is_never_a_500(faces: Faces, content: bytes, content_type: str) -> None:
    resp = await faces.client.post("/mapi.php", content=content, headers={"content-type": content_type})
    assert resp.status_code < 500, resp.text
    assert resp.json()["code"] < 0
    page = await faces.client.post(
        "/submit.php", content=content, headers={"content-type": content_type}, follow_redirects=False
    )
    assert 400 <= page.status_code < 500, page.text


async def test_failed_signatures_count_against_the_source(db: Db) -> None:
    async for f in start_faces(db, api={"failed_signatures_per_minute": 3, "rate_limit_per_minute": 2}):
        for _ in range(3):
            assert (await mapi(f, params(), key="forged-key"))["code"] == -2
        refused = await mapi(f, params())  # this source is over its budget: refused before any key
        assert refused["code"] == -1 and "too many" in refused["msg"]


async def test_forged_requests_do_not_spend_the_merchants_budget(db: Db) -> None:
    async for f in start_faces(db, api={"rate_limit_per_minute": 2}):
        for _ in range(5):
            assert (await mapi(f, params(), key="forged-key"))["code"] == -2
        assert (await mapi(f, params(out_trade_no="OK1")))["code"] == 1
