"""Shared pieces for the cashier, checkout, dryad and quickpay face tests:
an app with a merchant, receiving wallets and in-process fiat channels.

`RecordingChannel` implements engine.fiat.channel.Channel in memory so the faces'
fiat paths run end to end without a provider; the bridges' own simulators
(tests/fakes/*_sim.py) cover the wire protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from api.http.state import AppState
from engine.clock import ManualClock
from engine.fiat import service as fiat
from engine.fiat.channel import (
    CallbackAck,
    CallbackRejected,
    ChannelError,
    ChannelEvent,
    ClientKind,
    PaymentCreated,
    PaymentRequest,
    PaymentStatus,
)
from engine.models import Order
from tests.api.support import test_settings
from tests.dbharness import Db
from tests.factories import MERCHANT_API_KEY, MERCHANT_PID, make_merchant, make_wallets

API_KEY = {"X-Api-Key": f"{MERCHANT_PID}:{MERCHANT_API_KEY}"}


@dataclass
class RecordingChannel:
    """A Channel that answers like the real ones, per client kind, and
    remembers what it was asked; `fail_with` makes the next create refuse."""

    name: str
    requests: list[PaymentRequest] = field(default_factory=list)
    fail_with: str = ""

    async def create(self, request: PaymentRequest) -> PaymentCreated:
        self.requests.append(request)
        if self.fail_with:
            raise ChannelError(self.name, self.fail_with, "the provider refused the order")
        no = request.out_trade_no
        if request.kind == ClientKind.JSAPI:
            return PaymentCreated(jsapi={"appId": request.appid, "package": f"prepay_id=wx{no}"})
        if self.name == "alipay":
            qr = f"https://qr.alipay.com/bax{no}"
            if request.kind == ClientKind.H5:
                return PaymentCreated(payurl=f"https://openapi.alipay.com/gateway.do?biz={no}")
            return PaymentCreated(
                qrcode=qr, urlscheme=f"alipays://platformapi/startapp?saId=10000007&qrcode={qr}"
            )
        if request.kind == ClientKind.H5:
            return PaymentCreated(
                payurl=f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={no}"
            )
        return PaymentCreated(qrcode=f"weixin://wxpay/bizpayurl?pr={no}")

    async def query(self, out_trade_no: str) -> ChannelEvent | None:
        return None

    async def close(self, out_trade_no: str) -> None:
        return None

    async def refund(self, out_trade_no: str, refund_no: str, amount_fen: int, total_fen: int) -> None:
        return None

    async def parse_callback(self, headers: dict[str, str], body: bytes) -> ChannelEvent:
        raise CallbackRejected(f"{self.name} (recording) verifies no callbacks")

    def ack(self, ok: bool) -> CallbackAck:
        return CallbackAck(200, b"OK")

    async def aclose(self) -> None:
        return None


@dataclass
class Faces:
    client: AsyncTestClient[Litestar]
    app: Litestar
    channels: dict[str, RecordingChannel]
    clock: ManualClock
    # The test's own engine: the app's engine lives on the test client's
    # event loop, which asyncpg connections must not leave.
    db: Db

    @property
    def state(self) -> AppState:
        value: AppState = self.app.state.app_state
        return value

    def loopback(self) -> httpx.AsyncClient:
        """A client whose requests come from 127.0.0.1 (a trusted network)."""
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://usdtpay.test")

    async def order(self, order_id: int | str) -> Order:
        async with self.db.sessions() as session:
            order = await session.get(Order, int(order_id))
            assert order is not None
            return order

    async def pay_fiat(self, order_id: int | str, trade_no: str = "4200001234567890") -> None:
        """Settle the order's latest channel payment as the channel's callback would."""
        from engine.fiat.queries import newest_payment

        async with self.db.sessions() as session:
            payment = await newest_payment(session, int(order_id))
            assert payment is not None
            event = ChannelEvent(payment.out_trade_no, trade_no, payment.amount_fen, PaymentStatus.PAID, None)
            await fiat.settle_channel_event(session, event, payment.channel, self.clock.now())
            await session.commit()


async def start_faces(db: Db, now: datetime | None = None, **overrides: Any) -> AsyncIterator[Faces]:
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    await make_wallets(db, "eth", 1)
    clock = ManualClock(now) if now else ManualClock()
    app = create_app(test_settings(db, **overrides), clock=clock)
    channels = {"wechat": RecordingChannel("wechat"), "alipay": RecordingChannel("alipay")}
    async with AsyncTestClient(app=app) as client:
        app.state.app_state.channels = dict(channels)
        yield Faces(client, app, channels, clock, db)
