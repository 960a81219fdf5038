"""Finding 4: one small deeply nested body must not leak a merchant key
into the log or freeze the server, and no body is buffered past the limit.

The attack runs against `usdtpay serve` itself (a subprocess, readable
logs: USDTPAY_LOG_JSON=false, where rich tracebacks used to print every
frame's local variables, the merchant key among them)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.http.wire import MAX_BODY
from api.logging import configure_logging
from engine.config import Settings
from engine.models import ChannelPayment, Order
from tests.api.http.faces.support import RecordingChannel
from tests.api.http.security.support import live_app, served
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID, make_merchant, signed

DEPTH = 400


def nested_quickpay_body() -> bytes:
    fields = {
        "store_no": MERCHANT_PID,
        "paytype": 11,
        "appid": "wx2421b1c4370ec43b",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "amount": 1,
        "order_no": "deep-1",
        "sign": "0" * 32,
    }
    text = json.dumps(fields)[:-1] + ', "itemlist": ' + "[" * DEPTH + "]" * DEPTH + "}"
    return text.encode()


async def count(db: Db, model: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_nested_body_leaks_no_key_and_healthz_stays_up(db: Db, tmp_path: Path) -> None:
    await make_merchant(db)
    body = nested_quickpay_body()
    assert len(body) < 1100  # the "1 KB" body
    with served(db, tmp_path / "serve.log", USDTPAY_LOG_JSON="false") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as attacker:

            async def attack() -> httpx.Response:
                return await attacker.post(
                    "/QuickPay/JSAPIPay", content=body, headers={"content-type": "application/json"}
                )

            async def probe_health() -> list[int]:
                # A fresh connection each time; each must answer within 1 s
                # while the attack runs (a timeout fails the test).
                statuses = []
                for _ in range(10):
                    async with httpx.AsyncClient(base_url=server.base_url, timeout=1.0) as probe:
                        statuses.append((await probe.get("/healthz")).status_code)
                    await asyncio.sleep(0.05)
                return statuses

            results = await asyncio.gather(*(attack() for _ in range(20)), probe_health())
        log = server.log()
    answers = [r for r in results[:-1] if isinstance(r, httpx.Response)]
    health = results[-1]
    assert len(answers) == 20
    assert health == [200] * 10
    for resp in answers:
        # The quickpay face answers like QuickPay: HTTP 200, code FAILED.
        assert resp.status_code == 200 and resp.json()["code"] == "FAILED", resp.text
        assert "deeper than" in resp.json()["msg"]
    assert MERCHANT_KEY not in log
    assert "Traceback" not in log and "RecursionError" not in log
    assert await count(db, Order) == 0 and await count(db, ChannelPayment) == 0


@pytest.fixture
async def app(db: Db) -> AsyncIterator[Any]:
    async with live_app(db) as handle:
        yield handle


async def test_over_limit_bodies_get_413_in_each_face_envelope(app: Any, db: Db) -> None:
    big = json.dumps({"pid": MERCHANT_PID, "param": "x" * (MAX_BODY + 1)}).encode()
    json_type = {"content-type": "application/json"}
    async with app.client() as client:
        usdt = await client.post("/api/pay/create", content=big, headers=json_type)
        cashier = await client.post("/api/precreate", content=big, headers=json_type)
        checkout = await client.post("/api/order/info", content=big, headers=json_type)
        dryad = await client.post("/api/pay/wechat/native", content=big, headers=json_type)
        quickpay = await client.post("/QuickPay/JSAPIPay", content=big, headers=json_type)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            for _ in range(64):
                yield b"x" * 16 * 1024

        streamed = await client.post("/api/pay/create", content=chunks(), headers=json_type)
    assert usdt.status_code == 413 and usdt.json()["code"] == 413 and usdt.json()["data"] is None
    assert streamed.status_code == 413 and streamed.json()["code"] == 413
    assert cashier.status_code == 413 and cashier.json()["success"] is False
    assert checkout.status_code == 413 and checkout.json()["code"] == 413
    assert dryad.status_code == 413 and dryad.json()["code"] == 413
    assert quickpay.status_code == 200 and quickpay.json()["code"] == "FAILED"
    for resp in (usdt, cashier, checkout, dryad, quickpay):
        assert "larger than" in resp.text, resp.text
    assert await count(db, Order) == 0


async def test_nested_json_is_a_clear_error_on_every_face(app: Any, db: Db) -> None:
    deep = "[" * 64 + "]" * 64
    json_type = {"content-type": "application/json"}
    create = signed({"pid": MERCHANT_PID, "chain_type": 1, "order_no": "n1", "amount": "1.00"})
    usdt_body = json.dumps(create)[:-1] + f', "param": {deep}}}'
    async with app.client() as client:
        usdt = await client.post("/api/pay/create", content=usdt_body, headers=json_type)
        cashier = await client.post(
            "/api/precreate", content=f'{{"name": "a", "price": "1", "x": {deep}}}', headers=json_type
        )
        dryad = await client.post("/api/pay/wechat/native", content=f'{{"a": {deep}}}', headers=json_type)
    assert usdt.status_code == 422 and usdt.json()["code"] == 422, usdt.text
    assert cashier.status_code == 400 and cashier.json()["success"] is False
    assert dryad.status_code == 400 and dryad.json()["code"] == 400
    for resp in (usdt, cashier, dryad):
        assert "deeper than" in resp.json()["msg"], resp.text
    assert await count(db, Order) == 0


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("log_json", [False, True])
def test_tracebacks_never_show_locals(console_log: io.StringIO, log_json: bool) -> None:
    configure_logging(Settings(log_json=log_json))
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(console_log)

    def sign_with(merchant_key: str) -> None:
        raise RuntimeError("signing failed")

    try:
        sign_with(MERCHANT_KEY)
    except RuntimeError as exc:
        logging.getLogger("usdtpay.test").error("unexpected error in a face", exc_info=exc)
    output = console_log.getvalue()
    assert "sign_with" in output and "signing failed" in output  # the traceback is there
    assert MERCHANT_KEY not in output


async def test_callbacks_and_other_routes_buffer_no_more_than_the_app_limit(app: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # 1 MiB, chunked: no Content-Length to refuse early
        for _ in range(64):
            yield b"x" * 16 * 1024

    app.state.channels = {"wechat": RecordingChannel("wechat"), "alipay": RecordingChannel("alipay")}
    async with app.client() as client:
        callback = await client.post("/notify/wechat", content=chunks())
        announced = await client.post("/notify/alipay", content=b"x" * (1024 * 1024))
    assert callback.status_code == 413, callback.text
    assert announced.status_code == 413, announced.text
