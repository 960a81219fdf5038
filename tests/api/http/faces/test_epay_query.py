"""api.php?act=order, the return relay and the notification row, from a
shop's side: query by key and by sign, the signed return only after
payment, the outbox body verified with the shop's own EPay verifier, and a
forged TRADE_SUCCESS sent to usdtpay's own endpoints changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from engine.models import Notification
from tests.api.http.faces.epay_support import NOTIFY, RETURN, mapi, params, query_of
from tests.api.http.faces.support import Faces
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID, make_merchant
from tests.fakes.epay_client import md5_sign, signed, verify

ANSWER_FIELDS = {
    "code", "msg", "trade_no", "out_trade_no", "api_trade_no", "type", "pid", "addtime", "endtime",
    "name", "money", "status", "param", "buyer",
}  # fmt: skip


async def created(f: Faces, **over: str | None) -> dict[str, Any]:
    answer = await mapi(f, params(**over))
    assert answer["code"] == 1, answer
    return answer


async def query(f: Faces, fields: dict[str, str]) -> dict[str, Any]:
    resp = await f.client.get("/api.php", params=fields)
    assert resp.status_code == 200, resp.text
    assert MERCHANT_KEY not in resp.text  # never echoed, whichever way it came
    answer: dict[str, Any] = resp.json()
    return answer


async def notifications(f: Faces) -> list[Notification]:
    async with f.db.sessions() as session:
        return list(await session.scalars(select(Notification)))


async def test_query_by_key_before_and_after_payment(faces: Faces) -> None:
    made = await created(faces, money="1.5", param="uid=7&coupon=无")
    ask = {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "out_trade_no": "EP20240101001"}
    before = await query(faces, ask)
    assert set(before) == ANSWER_FIELDS and before["code"] == 1
    assert (before["trade_no"], before["status"], before["endtime"]) == (made["trade_no"], 0, None)
    assert (before["money"], before["type"], before["param"]) == ("1.5", "alipay", "uid=7&coupon=无")
    assert before["name"] == "VIP会员 1个月" and before["pid"] == MERCHANT_PID
    assert len(before["addtime"]) == 19  # YYYY-MM-DD HH:MM:SS
    await faces.pay_fiat(made["trade_no"], "2024010122001400001234567890")
    after = await query(
        faces, {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "trade_no": made["trade_no"]}
    )
    assert (after["status"], after["api_trade_no"]) == (1, "2024010122001400001234567890")
    assert after["endtime"] is not None and after["money"] == "1.5"


@pytest.mark.parametrize("mode", ["plain", "key"])
async def test_query_by_sign_instead_of_the_key(db: Db, mode: str) -> None:
    from tests.api.http.faces.support import start_faces

    async for f in start_faces(db, epay={"sign_mode": "either"}):
        made = await created(f)
        ask = signed({"act": "order", "pid": MERCHANT_PID, "trade_no": made["trade_no"]}, MERCHANT_KEY, mode)
        answer = await query(f, ask)
        assert answer["code"] == 1 and answer["trade_no"] == made["trade_no"]
        bad = ask | {"trade_no": "1000000000000001"}  # the sign covered the other number
        assert (await query(f, bad))["code"] == -2


async def test_query_refusals(faces: Faces, db: Db) -> None:
    made = await created(faces)
    base = {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "trade_no": made["trade_no"]}
    assert (await query(faces, base | {"key": "wrong"}))["code"] == -2
    assert (await query(faces, base | {"pid": "99999"}))["code"] == -3
    assert (await query(faces, {k: v for k, v in base.items() if k != "key"}))["code"] == -2
    assert (await query(faces, base | {"act": "orders"}))["code"] == -5
    assert (await query(faces, base | {"trade_no": "12x"}))["code"] == -1
    assert (await query(faces, base | {"out_trade_no": "OTHER"}))["code"] == -1
    missing = {k: v for k, v in base.items() if k != "trade_no"}
    assert (await query(faces, missing))["code"] == -1
    # Another merchant's key does not read this merchant's order.
    other = await make_merchant(db, pid="20002", key="second-merchant-key-0123456789")
    assert (await query(faces, base | {"pid": "20002", "key": other.key}))["code"] == -1


async def test_return_is_signed_only_after_payment(faces: Faces) -> None:
    made = await created(faces)
    order = await faces.order(made["trade_no"])
    relay = order.return_url.removeprefix("http://127.0.0.1:8000")
    before = await faces.client.get(relay, follow_redirects=False)
    assert before.status_code == 302
    assert before.headers["location"] == f"http://127.0.0.1:8000/cashier.html?orderId={order.id}"
    assert "sign" not in before.headers["location"]
    await faces.pay_fiat(order.id)
    after = await faces.client.get(relay, follow_redirects=False)
    assert after.status_code == 302 and after.headers["location"].startswith(RETURN + "&")
    got = query_of(after.headers["location"])
    assert got.pop("from") == "usdtpay"  # the shop's own query is kept
    assert verify(got, MERCHANT_KEY)
    assert got == expected_result(order.id)


def expected_result(order_id: int, **over: str) -> dict[str, str]:
    fields = {
        "pid": MERCHANT_PID,
        "trade_no": str(order_id),
        "out_trade_no": "EP20240101001",
        "type": "alipay",
        "name": "VIP会员 1个月",
        "money": "1.00",
        "trade_status": "TRADE_SUCCESS",
        "param": "",
    } | over
    return fields | {"sign": md5_sign(fields, MERCHANT_KEY), "sign_type": "MD5"}


async def test_unknown_orders_at_the_relay_are_a_404_page(faces: Faces) -> None:
    resp = await faces.client.get("/epay/return", params={"pid": MERCHANT_PID, "out_trade_no": "NOPE"})
    assert resp.status_code == 404 and "text/html" in resp.headers["content-type"]
    assert (await faces.client.get("/epay/return")).status_code == 400


async def test_paid_order_writes_the_signed_notification(faces: Faces) -> None:
    made = await created(faces, type="", money="88.8", param="订单#1")
    order_id = int(made["trade_no"])
    resp = await faces.client.post("/api/get_pay_params", json={"orderId": str(order_id), "type": "wxpay"})
    assert resp.status_code == 200, resp.text  # the payer picks WeChat at the cashier
    await faces.pay_fiat(order_id)
    [row] = await notifications(faces)
    assert (row.scheme, row.url, row.event) == ("epay", NOTIFY, "paid")
    fields = query_of("?" + row.body)
    assert " ".join(fields) == "pid trade_no out_trade_no type name money trade_status param sign sign_type"
    assert verify(fields, MERCHANT_KEY)
    # Empty type asked; the payer used WeChat: reported as wxpay. money as sent.
    assert fields == expected_result(order_id, type="wxpay", money="88.8", param="订单#1")


async def test_key_variant_orders_are_notified_in_the_key_variant(db: Db) -> None:
    from tests.api.http.faces.support import start_faces

    async for f in start_faces(db, epay={"sign_mode": "key"}):
        made = await mapi(f, params(), mode="key")
        await f.pay_fiat(made["trade_no"])
        [row] = await notifications(f)
        fields = query_of("?" + row.body)
        assert verify(fields, MERCHANT_KEY, "key") and not verify(fields, MERCHANT_KEY, "plain")


async def test_a_forged_trade_success_changes_nothing(faces: Faces) -> None:
    made = await created(faces)
    order_id = int(made["trade_no"])
    forged = expected_result(order_id)  # correctly signed with the merchant key, even
    for path in ("/submit.php", "/mapi.php", "/api.php", "/epay/return", "/notify/alipay", "/notify/wechat"):
        await faces.client.get(path, params=forged, follow_redirects=False)
        await faces.client.post(path, data=forged, follow_redirects=False)
    await faces.client.get("/api/check_order", params={"out_trade_no": str(order_id)})
    order = await faces.order(order_id)
    assert (order.status, order.paid_at) == ("pending", None)
    assert await notifications(faces) == []
    answer = await query(
        faces, {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "trade_no": str(order_id)}
    )
    assert answer["status"] == 0
    async with faces.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_create_repeat_pay_query_and_notify_on_both_databases(any_db: Db) -> None:
    from tests.api.http.faces.support import start_faces

    async for f in start_faces(any_db):
        made = await created(f, type="", money="12.34", coupon="满100减10")
        assert (await mapi(f, params(type="", money="12.34", coupon="满100减10")))["trade_no"] == made[
            "trade_no"
        ]
        assert (await mapi(f, params(type="", money="12.35", coupon="满100减10")))["code"] == -1
        picked = await f.client.post(
            "/api/get_pay_params", json={"orderId": made["trade_no"], "type": "alipay"}
        )
        assert picked.status_code == 200, picked.text
        await f.pay_fiat(made["trade_no"])
        ask = {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "out_trade_no": "EP20240101001"}
        answer = await query(f, ask)
        assert (answer["status"], answer["type"], answer["money"]) == (1, "alipay", "12.34")
        [row] = await notifications(f)
        assert query_of("?" + row.body) == expected_result(int(made["trade_no"]), money="12.34")
