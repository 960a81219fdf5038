"""Errors the framework raises (unknown path, wrong method, oversized body)
come back in the envelope of the face the path belongs to, with a message
that says what to do."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import signed

USDT_ENVELOPE = {"code", "msg", "data"}


@pytest.mark.parametrize(
    ("method", "path", "status", "keys"),
    [
        ("POST", "/api/pay/crate", 404, USDT_ENVELOPE),
        ("GET", "/api/pay/create", 405, USDT_ENVELOPE),
        ("DELETE", "/api/pay/query", 405, USDT_ENVELOPE),
        ("GET", "/api/precreate", 405, {"success", "msg"}),
        ("GET", "/api/order/info", 405, {"code", "msg"}),
        ("POST", "/api/pay/orders/123", 405, {"code", "msg", "data"}),
        ("GET", "/QuickPay/JSAPIPay", 405, {"code", "msg", "data"}),
        ("GET", "/nothing-here", 404, USDT_ENVELOPE),
    ],
)
async def test_routing_errors_use_the_face_envelope(
    client: AsyncTestClient[Any], method: str, path: str, status: int, keys: set[str]
) -> None:
    resp = await client.request(method, path)
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    body = resp.json()
    assert keys <= set(body), body
    if "success" in body:
        assert body["success"] is False and resp.status_code == status
    elif body["code"] == "FAILED":  # quickpay: its code is a word, the status says the rest
        assert resp.status_code in (200, status)
    else:
        assert resp.status_code == status and body["code"] == status


async def test_not_found_names_the_path_and_the_reference(client: AsyncTestClient[Any]) -> None:
    body = (await client.post("/api/pay/crate", json={})).json()
    assert body["msg"] == "no endpoint POST /api/pay/crate; the API reference is at /schema"
    assert body["data"] is None


async def test_wrong_method_names_the_allowed_one(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/api/pay/create")
    assert resp.json()["msg"] == "GET is not allowed on /api/pay/create; use POST"
    assert "POST" in resp.headers["allow"]


async def test_oversized_body_is_413_in_the_envelope(client: AsyncTestClient[Any]) -> None:
    resp = await client.post(
        "/api/pay/create",
        content=b'{"pid":"' + b"1" * 200_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413
    body = resp.json()
    assert body["code"] == 413 and "larger than" in body["msg"] and body["data"] is None


async def test_framework_validation_error_is_in_the_dryad_envelope(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/api/pay/orders/not-a-number")
    body = resp.json()
    assert resp.status_code in (400, 404) and set(body) == {"code", "msg", "data"}, body
    assert body["code"] == resp.status_code


async def test_signed_request_still_succeeds(client: AsyncTestClient[Any]) -> None:
    fields = {"pid": "10001", "chain_type": 1, "order_no": "ENV-1", "amount": "10.00"}
    resp = await client.post("/api/pay/create", json=signed(fields))
    assert resp.status_code == 200, resp.text


async def test_epay_paths_answer_in_epays_own_shapes(client: AsyncTestClient[Any]) -> None:
    """EPay's JSON calls answer errors as {"code": -1, "msg"} (HTTP 200, as shops
    expect); its browser page answers an HTML page with the status."""
    mapi = await client.get("/mapi.php")
    assert mapi.json() == {"code": -1, "msg": "GET is not allowed on /mapi.php; use POST"}
    page = await client.put("/submit.php")
    assert page.status_code == 405 and page.headers["content-type"].startswith("text/html")
    assert "PUT is not allowed on /submit.php" in page.text
