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
from engine.errors import Unavailable, UsdtPayError
from engine.fiat import service as fiat
from engine.fiat.channel import Channel, ChannelError, ClientKind, PaymentCreated, PaymentRequest
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
    reuse_key = f"{kind.value}|{openid}|{appid}|{wallet}"
    async with state.sessions() as session:
        order = await queries.require_order(session, order_id)
        previous = await fiat.latest_payment(session, order_id, channel=channel_name, client_type=kind.value)
        payable = order.status == "pending" and state.now() < order.expires_at
        if (
            payable
            and previous
            and previous.pay_data.get("key") == reuse_key
            and "created" in previous.pay_data
        ):
            created = PaymentCreated(**previous.pay_data["created"])
            return FiatPayment(previous.id, previous.out_trade_no, channel_name, created)
        # Not payable any more: open_payment raises the error that says why.
        payment = await fiat.open_payment(
            session, order_id, channel=channel_name, client_type=kind.value, now=state.now()
        )
        await session.commit()
    request = PaymentRequest(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        subject=order.subject or f"Order {order.merchant_order_no}",
        kind=kind,
        expires_at=order.expires_at,
        notify_url="",
        client_ip=client_ip,
        openid=openid,
        appid=appid,
        return_url=return_url or order.return_url,
        wallet=wallet,
    )
    try:
        created = await channel.create(request)
    except UsdtPayError as exc:
        # A timeout is ambiguous: the channel may hold the order, so the
        # query step keeps watching it. Anything else never reached a payer.
        if not (isinstance(exc, ChannelError) and exc.provider_code == "timeout"):
            async with state.sessions() as session:
                await fiat.mark_payment(session, payment.id, "failed", note=exc.message)
                await session.commit()
        log.warning("%s create for order %s failed: %s", channel_name, order_id, exc.message)
        raise
    async with state.sessions() as session:
        await fiat.record_created(
            session,
            payment.id,
            pay_data={"key": reuse_key, "created": asdict(created)},
            channel_trade_no=created.channel_trade_no,
        )
        await session.commit()
    return FiatPayment(payment.id, payment.out_trade_no, channel_name, created)
