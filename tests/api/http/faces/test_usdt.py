from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from tests.factories import MERCHANT_KEY, signed

SEED_CREATE = {
    "pid": "10001",
    "chain_type": 1,
    "order_no": "20240101000001",
    "amount": "100.00",
    "type": 1,
    "currency": "CNY",
    "scanpay": 1,
    "notify_url": "https://example.com/notify",
    "return_url": "https://example.com/return",
    "param": '{"user_id": "123"}',
}


async def test_seed_create_example_returns_documented_fields(client: AsyncTestClient) -> None:
    resp = await client.post("/api/pay/create", json=signed(SEED_CREATE))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 200 and body["msg"] == "success"
    data = body["data"]
    assert set(data) == {"plat_order_no", "u_addr", "u_type", "amount", "expire_time"}
    assert isinstance(data["plat_order_no"], str) and data["plat_order_no"].isdigit()
    assert int(data["plat_order_no"]) < 2**53
    assert data["u_type"] == "TRC20"
    assert data["u_addr"].startswith("T")
    # 100.00 CNY / 7.20 = 13.888.. → rounded up to 13.89, plus the unique fraction.
    assert data["amount"] == "13.890001"
    assert isinstance(data["expire_time"], int)


async def test_query_returns_documented_fields(client: AsyncTestClient) -> None:
    created = (await client.post("/api/pay/create", json=signed(SEED_CREATE))).json()["data"]
    resp = await client.get("/api/pay/query", params=signed({"pid": "10001", "order_no": "20240101000001"}))
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["plat_order_no"] == created["plat_order_no"]
    assert data["order_no"] == "20240101000001"
    assert data["amount"] == "13.890001"
    assert data["status"] == "pending"
    assert data["u_type"] == "TRC20"
    assert data["paytime"] == 0 and isinstance(data["createtime"], int)


async def test_scanpay_zero_returns_cashier_url(client: AsyncTestClient) -> None:
    resp = await client.post("/api/pay/create", json=signed({**SEED_CREATE, "scanpay": 0}))
    data = resp.json()["data"]
    assert set(data) == {"url", "plat_order_no"}
    assert re.search(r"/cashier\.html\?orderId=\d+$", data["url"])


async def test_bad_signature_is_403_and_creates_nothing(client: AsyncTestClient) -> None:
    body = signed(SEED_CREATE)
    body["amount"] = "200.00"
    resp = await client.post("/api/pay/create", json=body)
    assert resp.status_code == 403 and resp.json()["code"] == 403
    q = await client.get("/api/pay/query", params=signed({"pid": "10001", "order_no": "20240101000001"}))
    assert q.status_code == 404 and q.json()["code"] == 404


async def test_unknown_pid_is_403(client: AsyncTestClient) -> None:
    resp = await client.post("/api/pay/create", json=signed({**SEED_CREATE, "pid": "99999"}, MERCHANT_KEY))
    assert resp.status_code == 403


async def test_retry_same_params_returns_same_order_and_different_params_conflict(
    client: AsyncTestClient,
) -> None:
    first = (await client.post("/api/pay/create", json=signed(SEED_CREATE))).json()["data"]
    again = (await client.post("/api/pay/create", json=signed(SEED_CREATE))).json()["data"]
    assert again == first
    resp = await client.post("/api/pay/create", json=signed({**SEED_CREATE, "amount": "101.00"}))
    assert resp.status_code == 409 and resp.json()["code"] == 409


async def test_usdt_currency_is_not_converted(client: AsyncTestClient) -> None:
    body = {**SEED_CREATE, "currency": "USDT", "amount": "10", "chain_type": 2}
    data = (await client.post("/api/pay/create", json=signed(body))).json()["data"]
    assert data["amount"] == "10.000001" and data["u_type"] == "ERC20" and data["u_addr"].startswith("0x")


async def test_bad_inputs_are_422_in_envelope(client: AsyncTestClient) -> None:
    for bad in (
        {"amount": "-1"},
        {"amount": "1e3"},
        {"amount": "NaN"},
        {"amount": "1.001"},
        {"chain_type": 3},
        {"currency": "EUR"},
        {"order_no": ""},
        {"scanpay": "x"},
    ):
        resp = await client.post("/api/pay/create", json=signed({**SEED_CREATE, **bad}))
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["code"] == 422 and resp.json()["data"] is None


async def test_garbage_body_is_not_500(client: AsyncTestClient) -> None:
    for content in (b"{", b"[1,2]", b"\xff\xfe", b'{"pid": NaN}'):
        resp = await client.post(
            "/api/pay/create", content=content, headers={"content-type": "application/json"}
        )
        assert resp.status_code in (403, 422), resp.text
