"""Alipay in public-key-certificate mode against the gateway simulator acting
as the open platform that issued the certificates: requests carry the SNs it
issued, responses name their certificate, a renewed Alipay certificate is
downloaded and trusted only if it chains to the root bundle (else refused
with what to do), and notifications verify with every trusted certificate."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from api.http.channel_payments import start_fiat_payment
from bridges.alipay import AlipayChannel
from engine.clock import ManualClock
from engine.fiat.channel import CallbackRejected, ChannelError, ClientKind, PaymentStatus
from tests.fakes.alipay_certs_sim import alipay_signing_key
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_keys import rsa_key
from tests.integration.bridges.alipay_certs import (
    cert_settings,
    channel,
    request,
    self_signed,
    sent_params,
)
from tests.integration.bridges.world import (
    World,
    alipay_settings,
)

pytestmark = pytest.mark.timeout(60)


async def test_precreate_notification_and_query_in_certificate_mode(cert_world: World) -> None:
    sim = cert_world.alipay
    assert sim.certs is not None
    order = await cert_world.order(fen=8888)

    payment = await start_fiat_payment(cert_world.state, order.id, "alipay", ClientKind.QR)

    assert payment.created.qrcode.startswith("https://qr.alipay.com/")
    sent = sent_params(sim)
    assert sent["method"] == "alipay.trade.precreate"
    assert sent["app_cert_sn"] == sim.certs.app_cert_sn
    assert sent["alipay_root_cert_sn"] == sim.certs.alipay_root_cert_sn
    response = await sim.pay(payment.out_trade_no)
    assert response is not None and (response.status_code, response.content) == (200, b"success")
    assert (await cert_world.reload(order.id)).status == "paid"
    assert await cert_world.notifications(order.id) == 1

    event = await cert_world.state.channels["alipay"].query(payment.out_trade_no)

    assert event is not None and event.status == PaymentStatus.PAID and event.amount_fen == 8888
    assert sent_params(sim)["method"] == "alipay.trade.query"


async def test_answers_name_the_alipay_certificate(cert_sim: AlipaySim, tmp_path: Path) -> None:
    assert cert_sim.certs is not None
    bridge = channel(cert_sim, tmp_path)
    form = bridge._signed("alipay.trade.query", {"out_trade_no": "1000000000000009"})
    async with httpx.AsyncClient() as client:
        answer = (await client.post(cert_sim.gateway, data=form)).json()
    await bridge.aclose()
    assert answer["alipay_trade_query_response"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert answer["alipay_cert_sn"] == cert_sim.certs.alipay_cert_sn


async def test_pay_urls_carry_the_certificate_sns(cert_sim: AlipaySim, tmp_path: Path) -> None:
    assert cert_sim.certs is not None
    bridge = channel(cert_sim, tmp_path)
    created = await bridge.create(request("1000000000000002", ClientKind.H5))
    await bridge.aclose()
    params = dict(parse_qsl(urlsplit(created.payurl).query))
    assert params["app_cert_sn"] == cert_sim.certs.app_cert_sn
    assert params["alipay_root_cert_sn"] == cert_sim.certs.alipay_root_cert_sn
    async with httpx.AsyncClient() as client:
        opened = await client.get(created.payurl)
    assert opened.status_code == 200 and b"Alipay cashier" in opened.content
    assert cert_sim.trades["1000000000000002"].total_amount == "12.34"


@pytest.mark.parametrize(
    ("setting", "key_name", "code"),
    [
        # The app's own key, but not the certificate the platform issued for it.
        ("app_cert", "alipay-app", "isv.app-cert-not-exist"),
        ("alipay_root_cert", "intruder", "isv.invalid-alipay-root-cert-sn"),
    ],
)
async def test_certificates_the_gateway_does_not_know_are_a_clear_error(
    cert_sim: AlipaySim, tmp_path: Path, setting: str, key_name: str, code: str
) -> None:
    value = self_signed("not issued by Alipay", key_name)  # PEM text rather than a path
    bridge = channel(cert_sim, tmp_path, **{setting: value})
    with pytest.raises(ChannelError) as caught:
        await bridge.create(request("1000000000000003"))
    await bridge.aclose()
    assert caught.value.provider_code == code
    assert f"USDTPAY_ALIPAY__{setting.upper()} is not" in caught.value.message
    assert "download" in caught.value.message
    assert cert_sim.trades == {}


DOWNLOAD = "alipay.open.app.alipaycert.download"


async def test_after_a_renewal_the_new_certificate_is_downloaded_once_and_trusted(
    cert_sim: AlipaySim, tmp_path: Path
) -> None:
    certs = cert_sim.certs
    assert certs is not None
    bridge = channel(cert_sim, tmp_path)
    await bridge.create(request("1000000000000004"))
    cert_sim.scan("1000000000000004")
    cert_sim.rotate_alipay_cert()

    event = await bridge.query("1000000000000004")
    created = await bridge.create(request("1000000000000014"))
    again = await bridge.query("1000000000000004")

    assert event is not None and event.status == PaymentStatus.PENDING
    assert again is not None and again.status == PaymentStatus.PENDING
    assert created.qrcode.startswith("https://qr.alipay.com/")
    assert cert_sim.cert_downloads == [certs.renewed_alipay_cert_sn]
    asked = next(sent_params(cert_sim, i) for i in range(len(cert_sim.requests)) if is_download(cert_sim, i))
    assert json.loads(asked["biz_content"]) == {"alipay_cert_sn": certs.renewed_alipay_cert_sn}
    assert asked["app_cert_sn"] == certs.app_cert_sn
    # Settings untouched: the configured certificate is still the primary.
    assert bridge.certs is not None and bridge.certs.alipay_cert_sn == certs.alipay_cert_sn
    assert bridge.cert_store is not None
    assert list(bridge.cert_store.keys) == [certs.alipay_cert_sn, certs.renewed_alipay_cert_sn]

    # An answer still signed with the old certificate verifies too, without a download.
    cert_sim.alipay_key, cert_sim.alipay_cert_sn = alipay_signing_key(0), certs.alipay_cert_sn
    old = await bridge.query("1000000000000004")
    await bridge.aclose()
    assert old is not None and old.status == PaymentStatus.PENDING
    assert len(cert_sim.cert_downloads) == 1


def is_download(sim: AlipaySim, index: int) -> bool:
    return sent_params(sim, index).get("method") == DOWNLOAD


async def test_concurrent_answers_naming_a_new_certificate_share_one_download(
    cert_sim: AlipaySim, tmp_path: Path
) -> None:
    assert cert_sim.certs is not None
    bridge = channel(cert_sim, tmp_path)
    for no in ("1000000000000021", "1000000000000022", "1000000000000023"):
        await bridge.create(request(no))
        cert_sim.scan(no)
    cert_sim.rotate_alipay_cert()

    events = await asyncio.gather(
        *(bridge.query(no) for no in ("1000000000000021", "1000000000000022", "1000000000000023"))
    )
    await bridge.aclose()

    assert [e.status if e else None for e in events] == [PaymentStatus.PENDING] * 3
    assert cert_sim.cert_downloads == [cert_sim.certs.renewed_alipay_cert_sn]


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("foreign_root", "it is not issued by a certificate of USDTPAY_ALIPAY__ALIPAY_ROOT_CERT"),
        ("other_sn", "its SN is {old_sn!r}, not the one asked for"),
        ("error", "its download was refused: isv.alipay-cert-not-exist 支付宝公钥证书不存在"),
    ],
)
async def test_a_renewed_certificate_that_cannot_be_trusted_is_refused(
    cert_sim: AlipaySim, tmp_path: Path, fault: str, why: str
) -> None:
    certs = cert_sim.certs
    assert certs is not None
    bridge = channel(cert_sim, tmp_path)
    await bridge.create(request("1000000000000004"))
    trade = cert_sim.mark_paid("1000000000000004")
    cert_sim.rotate_alipay_cert()
    cert_sim.cert_download_fault = fault

    with pytest.raises(ChannelError) as caught:
        await bridge.query("1000000000000004")

    assert caught.value.provider_code == "bad_signature"
    assert certs.renewed_alipay_cert_sn in caught.value.message
    assert why.format(old_sn=certs.alipay_cert_sn) in caught.value.message
    assert "download the new alipayCertPublicKey_RSA2.crt" in caught.value.message
    assert "USDTPAY_ALIPAY__ALIPAY_CERT" in caught.value.message
    assert cert_sim.cert_downloads == [certs.renewed_alipay_cert_sn]
    assert bridge.cert_store is not None and list(bridge.cert_store.keys) == [certs.alipay_cert_sn]
    # Nothing learned: a notification signed with the new key is still refused.
    with pytest.raises(CallbackRejected):
        await bridge.parse_callback({}, cert_sim.notification(trade))
    await bridge.aclose()


async def test_an_answer_naming_a_certificate_alipay_never_issued_is_refused(
    cert_sim: AlipaySim, tmp_path: Path
) -> None:
    bridge = channel(cert_sim, tmp_path)
    await bridge.create(request("1000000000000004"))
    cert_sim.scan("1000000000000004")
    # Only the SN differs: the signature alone would still verify.
    cert_sim.alipay_cert_sn = "0123456789abcdef0123456789abcdef"

    with pytest.raises(ChannelError) as caught:
        await bridge.query("1000000000000004")
    await bridge.aclose()

    assert caught.value.provider_code == "bad_signature"
    assert "'0123456789abcdef0123456789abcdef', which is not configured" in caught.value.message
    assert "download the new alipayCertPublicKey_RSA2.crt" in caught.value.message
    assert cert_sim.cert_downloads == ["0123456789abcdef0123456789abcdef"]


async def test_a_failed_download_is_retried_only_after_a_minute(cert_sim: AlipaySim, tmp_path: Path) -> None:
    certs = cert_sim.certs
    assert certs is not None
    clock = ManualClock(datetime.now(UTC))
    bridge = AlipayChannel(cert_settings(cert_sim, tmp_path), notify_url="http://127.0.0.1:9/n", clock=clock)
    await bridge.create(request("1000000000000004"))
    cert_sim.scan("1000000000000004")
    cert_sim.rotate_alipay_cert()
    cert_sim.cert_download_fault = "error"
    with pytest.raises(ChannelError, match=r"isv\.alipay-cert-not-exist"):
        await bridge.query("1000000000000004")
    cert_sim.cert_download_fault = None

    clock.advance(seconds=59)
    with pytest.raises(ChannelError, match="not retried yet") as caught:
        await bridge.query("1000000000000004")
    assert caught.value.provider_code == "bad_signature"
    assert len(cert_sim.cert_downloads) == 1

    clock.advance(seconds=1)
    event = await bridge.query("1000000000000004")
    await bridge.aclose()
    assert event is not None and event.status == PaymentStatus.PENDING
    assert cert_sim.cert_downloads == [certs.renewed_alipay_cert_sn] * 2


async def test_after_a_renewal_the_new_certificate_setting_works(cert_sim: AlipaySim, tmp_path: Path) -> None:
    assert cert_sim.certs is not None
    old = channel(cert_sim, tmp_path)
    await old.create(request("1000000000000005"))
    await old.aclose()
    cert_sim.scan("1000000000000005")
    cert_sim.rotate_alipay_cert()

    renewed = channel(cert_sim, tmp_path, alipay_cert=cert_sim.certs.renewed_alipay_cert)
    event = await renewed.query("1000000000000005")
    await renewed.aclose()

    assert event is not None and event.status == PaymentStatus.PENDING
    assert cert_sim.cert_downloads == []


async def test_notifications_verify_with_every_trusted_alipay_certificate(
    cert_sim: AlipaySim, tmp_path: Path
) -> None:
    bridge = channel(cert_sim, tmp_path)
    await bridge.create(request("1000000000000006"))
    trade = cert_sim.mark_paid("1000000000000006")
    signed_by_old = cert_sim.notification(trade)

    event = await bridge.parse_callback({}, signed_by_old)
    assert event.status == PaymentStatus.PAID and event.amount_fen == 1234

    with pytest.raises(CallbackRejected, match="configured Alipay certificate"):
        await bridge.parse_callback({}, cert_sim.notification(trade, key=rsa_key("intruder")))
    cert_sim.rotate_alipay_cert()
    signed_by_new = cert_sim.notification(trade)
    # Notifications name no certificate: the new one is unknown until an answer names it.
    with pytest.raises(CallbackRejected, match=r"download the new alipayCertPublicKey_RSA2\.crt"):
        await bridge.parse_callback({}, signed_by_new)

    await bridge.query("1000000000000006")  # names the renewed certificate: downloaded
    await bridge.aclose()

    assert (await bridge.parse_callback({}, signed_by_new)).status == PaymentStatus.PAID
    assert (await bridge.parse_callback({}, signed_by_old)).status == PaymentStatus.PAID
    with pytest.raises(CallbackRejected):
        await bridge.parse_callback({}, cert_sim.notification(trade, key=rsa_key("intruder")))


async def test_a_renewed_certificate_notification_settles_once_the_certificate_is_learned(
    cert_world: World,
) -> None:
    order = await cert_world.order()
    payment = await start_fiat_payment(cert_world.state, order.id, "alipay", ClientKind.QR)
    cert_world.alipay.rotate_alipay_cert()

    response = await cert_world.alipay.pay(payment.out_trade_no)

    assert response is not None and (response.status_code, response.content) == (200, b"fail")
    assert (await cert_world.reload(order.id)).status == "pending"
    assert await cert_world.notifications(order.id) == 0

    event = await cert_world.state.channels["alipay"].query(payment.out_trade_no)
    assert event is not None and event.status == PaymentStatus.PAID
    url, body = cert_world.alipay.callbacks[-1]
    again = await cert_world.alipay.send(url, body)  # Alipay notifies again

    assert (again.status_code, again.content) == (200, b"success")
    assert (await cert_world.reload(order.id)).status == "paid"
    assert await cert_world.notifications(order.id) == 1
    assert len(cert_world.alipay.cert_downloads) == 1


async def test_public_key_mode_sends_no_certificate_sns(alipay_sim: AlipaySim) -> None:
    bridge = AlipayChannel(alipay_settings(alipay_sim), notify_url="http://127.0.0.1:9/n")
    assert bridge.settings.key_mode == "public_key" and bridge.certs is None
    await bridge.create(request("1000000000000007"))
    form = bridge._signed("alipay.trade.query", {"out_trade_no": "1000000000000007"})
    async with httpx.AsyncClient() as client:
        answer = (await client.post(alipay_sim.gateway, data=form)).json()
    await bridge.aclose()
    sent = sent_params(alipay_sim, 0)
    assert "app_cert_sn" not in sent and "alipay_root_cert_sn" not in sent
    assert "alipay_cert_sn" not in answer
