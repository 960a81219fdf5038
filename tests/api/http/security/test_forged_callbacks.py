"""Finding 1 (issue 12): a forged QuickPay callback must never mark an order
paid, whatever quickpay.auth_scheme says, and the values a forger needs
(the payment id and the channel trade number) are not readable without
the merchant's key. Finding 10 (part): QuickPay answers must be signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bridges.quickpay import QuickPayChannel
from engine.clock import SystemClock
from engine.config import ApiSettings, FiatSettings
from engine.errors import BadInput
from engine.fiat.query_loop import FiatQuery
from engine.models import ChannelPayment
from tests.api.http.security.payments import (
    API_KEY,
    MERCHANT_NOTIFY,
    STORE_KEY,
    STORE_NO,
    Served,
    notifications_for,
    quickpay_settings,
    serving,
    snapshot,
)
from tests.dbharness import Db
from tests.fakes.fiat_http import SimResponse
from tests.fakes.quickpay_sim import QuickPaySim

pytestmark = pytest.mark.timeout(60)

CREATE = {"bizOrderId": "ORDER-F1", "amount": 10000, "subject": "商品", "callbackUrl": MERCHANT_NOTIFY}


@pytest.fixture
def unsigned_sim() -> Iterator[QuickPaySim]:
    with QuickPaySim(store_no=STORE_NO, store_key="", signed=False) as sim:
        yield sim  # type: ignore[misc]


@pytest.fixture
def signed_sim() -> Iterator[QuickPaySim]:
    with QuickPaySim(store_no=STORE_NO, store_key=STORE_KEY) as sim:
        yield sim  # type: ignore[misc]


async def open_order(live: Served) -> tuple[int, ChannelPayment]:
    """A merchant's QR order paid through QuickPay (the only channel)."""
    async with live.client() as client:
        resp = await client.post("/api/pay/wechat/native", json=CREATE, headers=API_KEY)
    assert resp.status_code == 200, resp.text
    order_id = resp.json()["data"]["orderId"]
    async with live.db.sessions() as session:
        payment = await session.get(ChannelPayment, resp.json()["data"]["transactionId"])
    assert payment is not None and payment.channel == "quickpay" and payment.channel_trade_no
    return order_id, payment


def forged_body(payment: ChannelPayment, **override: Any) -> bytes:
    """What a forger writes: the payment id and the trade number, unsigned."""
    fields = {
        "transaction_status": "SUCCESSED",
        "store_no": STORE_NO,
        "paytype": "QRPAY",
        "total_amount": payment.amount_fen,
        "order_no": payment.out_trade_no,
        "transaction_no": payment.channel_trade_no,
        "transaction_time": "2026-01-01 12:00:00",
    } | override
    return json.dumps(fields).encode()


async def post_callback(live: Served, body: bytes) -> httpx.Response:
    async with live.client() as client:
        return await client.post(
            "/notify/quickpay", content=body, headers={"Content-Type": "application/json"}
        )


def test_unauthenticated_callback_scheme_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="CALLBACK_NETWORKS"):
        quickpay_settings_like(auth_scheme="none")
    # A channel built from hand-made (unvalidated) settings refuses as well.
    settings = quickpay_settings_like(auth_scheme="md5").model_copy(update={"auth_scheme": "none"})
    with pytest.raises(BadInput, match="CALLBACK_NETWORKS"):
        QuickPayChannel(settings, notify_url="http://127.0.0.1/notify/quickpay")
    with pytest.raises(ValidationError, match="CIDR"):
        quickpay_settings_like(auth_scheme="none", callback_networks=["not-a-network"])
    assert quickpay_settings_like(auth_scheme="none", callback_networks=["203.0.113.0/24"])


def quickpay_settings_like(**overrides: Any) -> Any:
    from engine.config import QuickPaySettings

    base = {"enabled": True, "store_no": STORE_NO, "store_key": "k", "api_base_url": "http://127.0.0.1:9"}
    return QuickPaySettings.model_validate(base | overrides)


async def test_forged_callback_from_outside_the_callback_networks(db: Db, unsigned_sim: QuickPaySim) -> None:
    qp = quickpay_settings(unsigned_sim, auth_scheme="none", callback_networks=["192.0.2.0/24"])
    async with serving(db, quickpay=qp) as live:
        order_id, payment = await open_order(live)
        before = await snapshot(db)
        # Even the real gateway's success says nothing from the wrong network.
        unsigned_sim.mark_paid(payment.out_trade_no)
        resp = await post_callback(live, forged_body(payment))
        assert (resp.status_code, resp.content) == (200, b"FAIL")
        assert await snapshot(db) == before
        assert not await notifications_for(db, order_id)


async def test_forged_unsigned_success_is_checked_with_the_query_api(
    db: Db, unsigned_sim: QuickPaySim
) -> None:
    qp = quickpay_settings(unsigned_sim, auth_scheme="none", callback_networks=["127.0.0.0/8"])
    async with serving(db, quickpay=qp) as live:
        order_id, payment = await open_order(live)
        before = await snapshot(db)
        queries = len([r for r in unsigned_sim.requests if r.path.endswith("/Query")])
        resp = await post_callback(live, forged_body(payment))
        assert (resp.status_code, resp.content) == (200, b"FAIL")
        assert len([r for r in unsigned_sim.requests if r.path.endswith("/Query")]) == queries + 1
        assert await snapshot(db) == before
        # A forged "closed" changes nothing either: the gateway says pending.
        resp = await post_callback(live, forged_body(payment, transaction_status="CANCELED"))
        assert resp.content == b"FAIL" and await snapshot(db) == before
        # The payer really pays: the same unsigned callback now agrees with Query.
        answer = await unsigned_sim.pay(payment.out_trade_no)
        assert answer is not None and answer.content == b"OK"
        assert [o[3] for o in (await snapshot(db)).orders] == ["paid"]
        assert len(await notifications_for(db, order_id)) == 1


async def test_reads_without_the_key_show_no_payment_id_or_trade_number(
    db: Db, unsigned_sim: QuickPaySim
) -> None:
    qp = quickpay_settings(unsigned_sim, auth_scheme="none", callback_networks=["192.0.2.0/24"])
    # No trusted network: the reader is anyone on the internet.
    async with serving(db, quickpay=qp, api=ApiSettings(trusted_networks=[])) as live:
        order_id, payment = await open_order(live)
        async with live.client() as anon:
            latest = (await anon.get(f"/api/pay/orders/{order_id}/transactions/latest")).json()["data"]
            order = (await anon.get(f"/api/pay/orders/{order_id}")).json()["data"]
            owner_latest = await anon.get(f"/api/pay/orders/{order_id}/transactions/latest", headers=API_KEY)
            owner_order = await anon.get(f"/api/pay/orders/{order_id}", headers=API_KEY)
            wrong = await anon.get(f"/api/pay/orders/{order_id}", headers={"X-Api-Key": "10001:wrong"})
        text = json.dumps([latest, order])
        assert latest["id"] is None and order["channelTradeNo"] is None
        assert payment.out_trade_no not in text and str(payment.channel_trade_no) not in text
        assert owner_latest.json()["data"]["id"] == payment.id
        assert owner_order.json()["data"]["channelTradeNo"] == payment.channel_trade_no
        assert wrong.status_code == 403


async def test_unsigned_gateway_answer_is_refused(db: Db, signed_sim: QuickPaySim) -> None:
    """A man in the middle of the QuickPay API (or a wrong host) answers a
    query with an unsigned success: the query worker settles nothing."""
    async with serving(db, quickpay=quickpay_settings(signed_sim)) as live:
        order_id, payment = await open_order(live)
        before = await snapshot(db)
        channel = QuickPayChannel(
            quickpay_settings(signed_sim), notify_url=f"{live.base_url}/notify/quickpay"
        )
        clock = SystemClock()
        info = signed_sim.result_info(signed_sim.payments[payment.out_trade_no]) | {
            "transaction_status": "SUCCESSED",
            "transaction_time": "2026-01-01 12:00:00",
        }
        for data in (info, info | {"sign": "0" * 32}):
            body = json.dumps({"code": "SUCCESS", "msg": "成功", "data": data}).encode()
            signed_sim.faults.append(SimResponse(200, body, {"Content-Type": "application/json"}))
            worker = FiatQuery(
                db.sessions, {"quickpay": channel}, FiatSettings(query_min_age_seconds=0), clock
            )
            report = await worker.step()
            assert (report.queried, report.settled, report.errors) == (1, 0, 1)
            assert await snapshot(db) == before
        assert not await notifications_for(db, order_id)
        await channel.aclose()
