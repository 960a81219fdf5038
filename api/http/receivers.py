"""Channel callbacks: POST /notify/wechat, /notify/alipay, /notify/quickpay.

Verify first (signature, decryption, time, merchant / app id), then settle
idempotently, then answer with exactly what the provider expects. Anything
that fails verification or does not match our records changes nothing, is
logged, and gets the provider's failure answer (so it may send again).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from litestar import Request, Response, Router, post

from api.http.faces import openapi_doc as doc
from api.http.state import AppState
from api.http.wire import client_ip
from engine.db import unit_of_work
from engine.errors import UsdtPayError
from engine.fiat import queries as fiat_queries
from engine.fiat import service as fiat
from engine.fiat.channel import CallbackAck, Channel, ChannelEvent, PaymentStatus

log = logging.getLogger("usdtpay.notify")

MAX_CALLBACK_BYTES = 64 * 1024
CALLBACK_ANSWERS = {
    200: "The channel's own answer: `success` / `fail` (Alipay), `OK` / `FAIL` (QuickPay), or WeChat's "
    "JSON success body. A failure answer makes the channel send again later.",
    400: "WeChat only: the callback was not verified or not applied (WeChat's JSON FAIL body).",
}


def _answer(ack: CallbackAck) -> Response[bytes]:
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.content_type)


async def _apply(state: AppState, name: str, event: ChannelEvent) -> None:
    """Settle a paid event; close a payment the channel says is over."""
    async with unit_of_work(state.sessions) as session:
        if event.status == PaymentStatus.PAID:
            result = await fiat.settle_channel_event(session, event, name, state.now())
            log.info("%s callback %s: order %s %s", name, event.out_trade_no, result.order_id, result.outcome)
            return
        if event.status in (PaymentStatus.CLOSED, PaymentStatus.FAILED):
            payment = await fiat_queries.payment_by_out_trade_no(session, name, event.out_trade_no)
            if payment is not None:
                await fiat.mark_payment(session, payment.id, event.status.value, note=f"{name} callback")


def _source_allowed(state: AppState, name: str, source: str) -> bool:
    """A channel with `callback_networks` set takes callbacks from there only
    (QuickPay without signatures must set them; see engine.config)."""
    networks: list[str] = getattr(getattr(state.settings, name, None), "callback_networks", [])
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


async def receive(state: AppState, name: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    channel: Channel | None = state.channels.get(name)
    if channel is None:
        return Response(
            content=f"channel {name} is not enabled".encode(), status_code=404, media_type="text/plain"
        )
    source = client_ip(request)
    if not _source_allowed(state, name, source):
        log.warning("%s callback refused: source %s is outside its callback_networks", name, source)
        return _answer(channel.ack(False))
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        log.warning("%s callback refused: body of %d bytes", name, len(body))
        return _answer(channel.ack(False))
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        event = await channel.parse_callback(headers, body)
    except UsdtPayError as exc:
        log.warning("%s callback rejected from %s: %s", name, request.client, exc.message)
        return _answer(channel.ack(False))
    try:
        await _apply(state, name, event)
    except fiat.FiatMismatch as exc:
        log.error("%s callback does not match our records, nothing changed: %s", name, exc.message)
        return _answer(channel.ack(False))
    except Exception:
        log.exception(
            "%s callback %s could not be applied; the channel will send it again", name, event.out_trade_no
        )
        return _answer(channel.ack(False))
    return _answer(channel.ack(True))


@post(
    "/notify/wechat",
    operation_id="notifyWechat",
    summary="WeChat Pay v3 payment callback",
    status_code=200,
    operation_class=doc.raw_callback(
        body="WeChat Pay's JSON callback (AES-256-GCM resource), signed in the Wechatpay-* headers",
        answers=CALLBACK_ANSWERS,
    ),
)
async def notify_wechat(request: Request[Any, Any, Any], app_state: AppState) -> Response[bytes]:
    return await receive(app_state, "wechat", request)


@post(
    "/notify/alipay",
    operation_id="notifyAlipay",
    summary="Alipay asynchronous notification",
    status_code=200,
    operation_class=doc.raw_callback(
        body="Alipay's form-encoded notification, RSA2-signed (sign, sign_type)", answers=CALLBACK_ANSWERS
    ),
)
async def notify_alipay(request: Request[Any, Any, Any], app_state: AppState) -> Response[bytes]:
    return await receive(app_state, "alipay", request)


@post(
    "/notify/quickpay",
    operation_id="notifyQuickpay",
    summary="QuickPay (Lianke) payment callback",
    status_code=200,
    operation_class=doc.raw_callback(
        body="QuickPay's callback fields, MD5-signed with the store key", answers=CALLBACK_ANSWERS
    ),
)
async def notify_quickpay(request: Request[Any, Any, Any], app_state: AppState) -> Response[bytes]:
    return await receive(app_state, "quickpay", request)


def router() -> Router:
    return Router(
        path="/", route_handlers=[notify_wechat, notify_alipay, notify_quickpay], tags=["channel callbacks"]
    )
