"""Starting a fiat payment for an order: the one call faces make.

The database is never held across the channel call: a pending
ChannelPayment is committed first, the channel is asked, then its answer is
stored. A repeated request for the same order, channel and client kind
gets the pay data already issued instead of a second channel order.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from api.http.state import AppState
from engine.db import unit_of_work
from engine.errors import Unavailable, UsdtPayError
from engine.fiat import queries as fiat_queries
from engine.fiat import service as fiat
from engine.fiat.channel import Channel, ChannelError, ClientKind, PaymentCreated, PaymentRequest
from engine.models import ChannelPayment, Order
from engine.orders import queries

log = logging.getLogger("usdtpay.fiat")


@dataclass(frozen=True)
class FiatPayment:
    payment_id: int  # dryad's transactionId
    out_trade_no: str
    channel: str
    created: PaymentCreated


def channel_for(state: AppState, name: str) -> Channel:
    channel = state.channels.get(name)
    if channel is None:
        raise Unavailable(
            f"payment channel {name!r} is not enabled; set USDTPAY_{name.upper()}__ENABLED=true and its keys"
        )
    return channel


@dataclass(frozen=True)
class PayerDetails:
    """What the payer's client told the face (which app, which account)."""

    openid: str = ""
    appid: str = ""
    wallet: str = ""
    client_ip: str = "127.0.0.1"
    return_url: str = ""

    def reuse_key(self, kind: ClientKind) -> str:
        return f"{kind.value}|{self.openid}|{self.appid}|{self.wallet}"


async def start_fiat_payment(
    state: AppState,
    order_id: int,
    channel_name: str,
    kind: ClientKind,
    *,
    openid: str = "",
    appid: str = "",
    wallet: str = "",
    client_ip: str = "127.0.0.1",
    return_url: str = "",
) -> FiatPayment:
    """What the payer needs to pay `order_id` through `channel_name`.

    Raises the engine's errors for an order that cannot be paid, and
    ChannelError (an UpstreamError, 502) with the provider's code when the
    channel refuses; a timed-out create stays pending for the query step.
    """
    channel = channel_for(state, channel_name)
    payer = PayerDetails(openid, appid, wallet, client_ip, return_url)
    opened = await _open_or_reuse(state, order_id, channel_name, kind, payer)
    if isinstance(opened, FiatPayment):
        return opened
    payment, order = opened
    created = await _ask_channel(state, channel, payment, _request(payment, order, kind, payer))
    async with unit_of_work(state.sessions) as session:
        await fiat.record_created(
            session,
            payment.id,
            pay_data={"key": payer.reuse_key(kind), "created": asdict(created)},
            channel_trade_no=created.channel_trade_no,
        )
    return FiatPayment(payment.id, payment.out_trade_no, channel_name, created)


async def _open_or_reuse(
    state: AppState, order_id: int, channel_name: str, kind: ClientKind, payer: PayerDetails
) -> FiatPayment | tuple[ChannelPayment, Order]:
    """The pay data already issued for this payer, or a new pending payment
    committed before the channel is asked (the database is not held across it)."""
    async with unit_of_work(state.sessions) as session:
        order = await queries.require_order(session, order_id)
        previous = await fiat_queries.pending_payment_of_kind(
            session, order_id, channel=channel_name, client_type=kind.value
        )
        payable = order.status == "pending" and state.now() < order.expires_at
        if (
            payable
            and previous
            and previous.pay_data.get("key") == payer.reuse_key(kind)
            and "created" in previous.pay_data
        ):
            created = PaymentCreated(**previous.pay_data["created"])
            return FiatPayment(previous.id, previous.out_trade_no, channel_name, created)
        # Not payable any more: open_payment raises the error that says why.
        payment = await fiat.open_payment(
            session, order_id, channel=channel_name, client_type=kind.value, now=state.now()
        )
    return payment, order


def _request(payment: ChannelPayment, order: Order, kind: ClientKind, payer: PayerDetails) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        subject=order.subject or f"Order {order.merchant_order_no}",
        kind=kind,
        expires_at=order.expires_at,
        notify_url="",
        client_ip=payer.client_ip,
        openid=payer.openid,
        appid=payer.appid,
        return_url=payer.return_url or order.return_url,
        wallet=payer.wallet,
    )


async def _ask_channel(
    state: AppState, channel: Channel, payment: ChannelPayment, request: PaymentRequest
) -> PaymentCreated:
    try:
        return await channel.create(request)
    except UsdtPayError as exc:
        # A timeout is ambiguous: the channel may hold the order, so the
        # query step keeps watching it. Anything else never reached a payer.
        if not (isinstance(exc, ChannelError) and exc.provider_code == "timeout"):
            async with unit_of_work(state.sessions) as session:
                await fiat.mark_payment(session, payment.id, "failed", note=exc.message)
        log.warning("%s create for payment %s failed: %s", payment.channel, payment.id, exc.message)
        raise
