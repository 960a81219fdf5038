"""WeChat Pay certificate mode: the channel downloads the platform
certificates from the simulator's /v3/certificates, learns a rotated one
from a single refresh, and refuses lists and messages it cannot trust."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from api.http.app import create_app
from api.http.channel_payments import start_fiat_payment
from bridges.wechat import WechatChannel
from engine.fiat.channel import CallbackRejected, ChannelError, ClientKind, PaymentRequest
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_http import bind_loopback, serve_app, socket_url
from tests.fakes.fiat_keys import rsa_key
from tests.fakes.quickpay_sim import QuickPaySim
from tests.fakes.wechat_sim import WechatSim
from tests.integration.bridges.world import (
    APIV3_KEY,
    APPID,
    MCHID,
    MERCHANT_SERIAL,
    World,
    wechat_settings,
    world_settings,
)

pytestmark = pytest.mark.timeout(60)

NOTIFY = "http://127.0.0.1:9/notify/wechat"
STRANGER_SERIAL = "7A1B2C3D4E5F60718293A4B5C6D7E8F901234567"


@pytest.fixture
def sim() -> Iterator[WechatSim]:
    with WechatSim(
        mchid=MCHID,
        appid=APPID,
        merchant_public_key=rsa_key("wechat-merchant").public_key(),
        merchant_serial=MERCHANT_SERIAL,
        apiv3_key=APIV3_KEY,
        mode="certificate",
    ) as sim:
        yield sim  # type: ignore[misc]


@pytest.fixture
async def channel(sim: WechatSim, tmp_path: Path) -> AsyncIterator[WechatChannel]:
    """Certificate mode with no certificate configured: all are downloaded."""
    settings = wechat_settings(sim, tmp_path, verify_mode="certificate", platform_certificates=[])
    channel = WechatChannel(settings, notify_url=NOTIFY)
    yield channel
    await channel.aclose()


@pytest.fixture
async def world(
    db: Db, tmp_path: Path, sim: WechatSim, alipay_sim: AlipaySim, quickpay_sim: QuickPaySim
) -> AsyncIterator[World]:
    """usdtpay over HTTP, its WeChat channel in certificate mode without certificates."""
    await make_merchant(db)
    sock = bind_loopback()
    settings = world_settings(db, socket_url(sock), (sim, alipay_sim, quickpay_sim), tmp_path)
    wechat = wechat_settings(sim, tmp_path, verify_mode="certificate", platform_certificates=[])
    app = create_app(settings.model_copy(update={"wechat": wechat}))
    async with serve_app(app, sock) as url:
        yield World(db, url, app.state.app_state, sim, alipay_sim, quickpay_sim)


def request(no: str = "1000000000000001") -> PaymentRequest:
    return PaymentRequest(
        out_trade_no=no,
        amount_fen=8888,
        subject="测试",
        kind=ClientKind.QR,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        notify_url=NOTIFY,
    )


async def callback(channel: WechatChannel, sim: WechatSim, no: str) -> str:
    """The sim's callback for a paid order, parsed by the channel; the event's status."""
    headers, body = sim.callback(sim.mark_paid(no))
    event = await channel.parse_callback({k.lower(): v for k, v in headers.items()}, body)
    return event.status


async def test_without_configured_certificates_they_are_downloaded_and_payments_work(world: World) -> None:
    order = await world.order()
    payment = await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    assert world.wechat.certificate_downloads == 1

    response = await world.wechat.pay(payment.out_trade_no)

    assert response is not None and response.status_code == 200
    assert (await world.reload(order.id)).status == "paid"
    assert await world.notifications(order.id) == 1
    event = await world.state.channels["wechat"].query(payment.out_trade_no)
    assert event is not None and event.status == "paid" and event.amount_fen == 10000
    assert world.wechat.certificate_downloads == 1  # once is enough until the interval passes


@pytest.mark.parametrize("first", ["callback", "response"])
async def test_a_rotated_certificate_is_learned_from_one_refresh(
    channel: WechatChannel, sim: WechatSim, first: str
) -> None:
    await channel.create(request())
    old = sim.serial
    new = sim.rotate()
    assert new != old

    if first == "callback":
        assert await callback(channel, sim, "1000000000000001") == "paid"
    else:
        event = await channel.query("1000000000000001")
        assert event is not None and event.status == "pending"
    assert sim.certificate_downloads == 2

    # Both kinds of message now verify with what that one refresh brought.
    await channel.create(request("1000000000000002"))
    assert await callback(channel, sim, "1000000000000002") == "paid"
    assert sim.certificate_downloads == 2
    assert {old, new} <= set(channel.verifier.keys)


async def test_a_list_signed_by_a_certificate_not_yet_trusted_is_refused(
    sim: WechatSim, tmp_path: Path
) -> None:
    """A merchant who missed WeChat's day of notice: the list is already
    signed by the new certificate. Trusting it would make the list vouch for
    itself, so it is refused until the operator adds the new PEM."""
    settings = wechat_settings(sim, tmp_path, verify_mode="certificate", platform_certificates=[])
    channel = WechatChannel(settings, notify_url=NOTIFY)
    await channel.create(request())
    new = sim.rotate(sign_list_with_new=True)

    with pytest.raises(ChannelError) as caught:
        await channel.query("1000000000000001")

    assert caught.value.provider_code == "bad_signature"
    assert new in caught.value.message and "do not trust yet" in caught.value.message
    assert "USDTPAY_WECHAT__PLATFORM_CERTIFICATES" in caught.value.message
    assert new not in channel.verifier.keys
    await channel.aclose()

    # The remedy the message names works.
    pem = sim.certificate.public_bytes(Encoding.PEM).decode()
    fixed = WechatChannel(settings.model_copy(update={"platform_certificates": [pem]}), notify_url=NOTIFY)
    event = await fixed.query("1000000000000001")
    assert event is not None and event.status == "pending"
    await fixed.aclose()


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("tampered", "does not decrypt; check USDTPAY_WECHAT__APIV3_KEY"),
        ("bad_signature", "certificate list not trusted: Wechatpay-Signature does not verify"),
    ],
)
async def test_a_tampered_certificate_list_is_refused(
    channel: WechatChannel, sim: WechatSim, fault: str, says: str
) -> None:
    sim.certificate_faults.append(fault)

    with pytest.raises(ChannelError) as caught:
        await channel.create(request())

    assert caught.value.provider_code == "bad_signature"
    assert says in caught.value.message
    assert not channel.verifier.keys
    assert not sim.orders  # nothing is sent whose answer could not be checked
    # The next, honest list is taken.
    created = await channel.create(request())
    assert created.qrcode.startswith("weixin://")
    assert sim.certificate_downloads == 2


async def test_a_tampered_list_during_a_refresh_keeps_the_trusted_certificates(
    channel: WechatChannel, sim: WechatSim
) -> None:
    await channel.create(request())
    trusted = dict(channel.verifier.keys)
    sim.rotate()
    sim.certificate_faults.append("tampered")

    with pytest.raises(ChannelError) as caught:
        await channel.query("1000000000000001")

    assert caught.value.provider_code == "bad_signature"
    assert channel.verifier.keys == trusted


async def test_a_wrong_apiv3_key_names_the_setting(sim: WechatSim, tmp_path: Path) -> None:
    settings = wechat_settings(
        sim, tmp_path, verify_mode="certificate", platform_certificates=[], apiv3_key="0" * 32
    )
    channel = WechatChannel(settings, notify_url=NOTIFY)
    with pytest.raises(ChannelError) as caught:
        await channel.create(request())
    assert caught.value.provider_code == "bad_signature"
    assert "USDTPAY_WECHAT__APIV3_KEY" in caught.value.message
    assert "0" * 32 not in caught.value.message and APIV3_KEY not in caught.value.message
    await channel.aclose()


async def test_a_response_with_a_serial_unknown_after_the_refresh_is_refused(
    channel: WechatChannel, sim: WechatSim
) -> None:
    await channel.create(request())
    sim.serial = STRANGER_SERIAL  # signed by the platform key, under a serial WeChat never listed

    with pytest.raises(ChannelError) as caught:
        await channel.query("1000000000000001")

    assert caught.value.provider_code == "bad_signature"
    assert STRANGER_SERIAL in caught.value.message and "certificate list" in caught.value.message
    assert sim.certificate_downloads == 2


async def test_a_callback_with_an_unknown_serial_is_refused_after_one_refresh(world: World) -> None:
    order = await world.order()
    payment = await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    headers, body = world.wechat.callback(world.wechat.mark_paid(payment.out_trade_no))
    forged = world.wechat.signed_headers(body, signer=(rsa_key("intruder"), STRANGER_SERIAL))
    url = world.wechat.orders[payment.out_trade_no].notify_url

    response = await world.wechat.send(url, headers | forged, body)

    assert response.status_code == 400
    assert (await world.reload(order.id)).status == "pending"
    assert world.wechat.certificate_downloads == 2
    # More made-up serials do not make us call WeChat once each.
    for _ in range(3):
        assert (await world.wechat.send(url, headers | forged, body)).status_code == 400
    assert world.wechat.certificate_downloads == 2


async def test_a_callback_with_an_unknown_serial_raises_callback_rejected(
    channel: WechatChannel, sim: WechatSim
) -> None:
    await channel.create(request())
    headers, body = sim.callback(sim.mark_paid("1000000000000001"))
    forged = headers | sim.signed_headers(body, signer=(rsa_key("intruder"), STRANGER_SERIAL))
    with pytest.raises(CallbackRejected, match="neither configured nor in WeChat's certificate list"):
        await channel.parse_callback({k.lower(): v for k, v in forged.items()}, body)


async def test_configured_certificates_work_without_any_download(sim: WechatSim, tmp_path: Path) -> None:
    pem = sim.certificate.public_bytes(Encoding.PEM).decode()
    settings = wechat_settings(sim, tmp_path, verify_mode="certificate", platform_certificates=[pem])
    channel = WechatChannel(settings, notify_url=NOTIFY)

    assert (await channel.create(request())).qrcode
    assert await callback(channel, sim, "1000000000000001") == "paid"
    event = await channel.query("1000000000000001")
    assert event is not None and event.status == "paid"

    assert sim.certificate_downloads == 0
    await channel.aclose()
