"""Trusting a downloaded Alipay certificate (chain to the root bundle,
validity, SN, RSA) and the store that downloads one per unknown SN."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from bridges.alipay_certs import (
    AlipayCertificates,
    AlipayCertStore,
    cert_sn,
    parse_download,
    trusted_key,
)
from engine.clock import ManualClock
from engine.fiat.channel import ChannelError
from tests.fakes.fiat_keys import cert_pem, issue_certificate, rsa_key

NOW = datetime.now(UTC)  # issue_certificate makes certificates valid around real now


def name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


ROOT_KEY, INTERMEDIATE_KEY = rsa_key("alipay-root-1"), rsa_key("alipay-root-0")
ROOT = issue_certificate(name("Test Root R1"), ROOT_KEY.public_key(), issuer_key=ROOT_KEY, serial=1, ca=True)
OTHER_KEY = rsa_key("wechat-platform")
OTHER_ROOT = issue_certificate(name("Test Root E1"), OTHER_KEY.public_key(), issuer_key=OTHER_KEY, serial=2)


def leaf(
    *,
    issuer: str = "Test Root R1",
    signer: rsa.RSAPrivateKey = ROOT_KEY,
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | None = None,
    serial: int = 1001,
) -> x509.Certificate:
    public = key or rsa_key("alipay-1").public_key()
    subject = name("Alipay leaf")
    return issue_certificate(subject, public, issuer=name(issuer), issuer_key=signer, serial=serial)


def intermediate(*, ca: bool = True) -> x509.Certificate:
    return issue_certificate(
        name("Test Class 2 R1"),
        INTERMEDIATE_KEY.public_key(),
        issuer=name("Test Root R1"),
        issuer_key=ROOT_KEY,
        serial=77,
        ca=ca,
    )


def test_a_certificate_issued_by_a_root_of_the_bundle_is_trusted() -> None:
    cert = leaf()
    key = trusted_key([cert], cert_sn(cert), [OTHER_ROOT, ROOT], NOW)
    assert key.public_numbers() == rsa_key("alipay-1").public_key().public_numbers()


def test_a_certificate_issued_through_a_downloaded_intermediate_is_trusted() -> None:
    cert = leaf(issuer="Test Class 2 R1", signer=INTERMEDIATE_KEY)
    assert trusted_key([cert, intermediate()], cert_sn(cert), [ROOT], NOW)
    with pytest.raises(ChannelError, match="not issued by a certificate of USDTPAY_ALIPAY__ALIPAY_ROOT_CERT"):
        trusted_key([cert], cert_sn(cert), [ROOT], NOW)  # intermediate left out


def test_an_intermediate_that_is_no_ca_does_not_issue() -> None:
    cert = leaf(issuer="Test Class 2 R1", signer=INTERMEDIATE_KEY)
    with pytest.raises(ChannelError, match=r"intermediate .* is not a valid CA certificate"):
        trusted_key([cert, intermediate(ca=False)], cert_sn(cert), [ROOT], NOW)


def test_the_same_names_signed_by_another_key_are_refused() -> None:
    forged = leaf(signer=rsa_key("intruder"))
    assert forged.issuer == ROOT.subject  # only the signature differs
    with pytest.raises(ChannelError) as caught:
        trusted_key([forged], cert_sn(forged), [ROOT], NOW)
    assert caught.value.provider_code == "bad_signature"
    assert "not issued by a certificate of USDTPAY_ALIPAY__ALIPAY_ROOT_CERT" in caught.value.message
    assert "update USDTPAY_ALIPAY__ALIPAY_CERT" in caught.value.message  # the hint


def test_a_certificate_under_another_sn_is_refused() -> None:
    cert = leaf()
    with pytest.raises(ChannelError, match=f"its SN is '{cert_sn(cert)}', not the one asked for"):
        trusted_key([cert], "0" * 32, [ROOT], NOW)


def test_a_certificate_that_is_not_rsa_is_refused() -> None:
    cert = leaf(key=ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(ChannelError, match="not an RSA certificate"):
        trusted_key([cert], cert_sn(cert), [ROOT], NOW)


@pytest.mark.parametrize("when", [NOW - timedelta(days=3), NOW + timedelta(days=400)])
def test_a_certificate_outside_its_validity_is_refused(when: datetime) -> None:
    cert = leaf()
    with pytest.raises(ChannelError, match="it is not valid now"):
        trusted_key([cert], cert_sn(cert), [ROOT], when)


def test_the_content_is_base64_of_the_pem_file_or_of_der() -> None:
    cert, inter = leaf(), intermediate()
    pem = base64.b64encode(cert_pem(cert, inter).encode()).decode()
    assert parse_download(pem, "sn") == [cert, inter]
    der = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    assert parse_download(der, "sn") == [cert]
    for bad in (None, "", "not base64!", base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAA==").decode()):
        with pytest.raises(ChannelError) as caught:
            parse_download(bad, "sn")
        assert caught.value.provider_code == "bad_response"


# -- the store ---------------------------------------------------------------

CONFIGURED = leaf(serial=1)


def store(download: object, clock: ManualClock) -> AlipayCertStore:
    key = CONFIGURED.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    certs = AlipayCertificates(
        app_cert_sn="app",
        alipay_root_cert_sn="root",
        alipay_cert_sn=cert_sn(CONFIGURED),
        alipay_key=key,
        alipay_roots=(ROOT,),
    )
    return AlipayCertStore(certs, download=download, clock=clock)  # type: ignore[arg-type]


def content(cert: x509.Certificate) -> str:
    return base64.b64encode(cert_pem(cert).encode()).decode()


async def test_concurrent_callers_share_one_download() -> None:
    renewed = leaf(serial=2)
    asked: list[str] = []
    release = asyncio.Event()

    async def download(sn: str) -> str:
        asked.append(sn)
        await release.wait()
        return content(renewed)

    certs = store(download, ManualClock(NOW))
    waiting = [asyncio.create_task(certs.key_for(cert_sn(renewed))) for _ in range(3)]
    while not asked:  # the first task is inside the download
        await asyncio.sleep(0)
    release.set()
    keys = await asyncio.gather(*waiting)

    assert asked == [cert_sn(renewed)] and certs.downloads == 1
    assert all(k.public_numbers() == keys[0].public_numbers() for k in keys)
    assert list(certs.keys) == [cert_sn(CONFIGURED), cert_sn(renewed)]
    assert await certs.key_for(cert_sn(CONFIGURED)) is certs.keys[cert_sn(CONFIGURED)]


async def test_a_failed_sn_waits_a_minute_and_other_sns_do_not_wait() -> None:
    asked: list[str] = []

    async def download(sn: str) -> str:
        asked.append(sn)
        raise ChannelError("alipay", "isv.alipay-cert-not-exist", "支付宝公钥证书不存在")

    clock = ManualClock(NOW)
    certs = store(download, clock)
    for _ in range(2):
        with pytest.raises(ChannelError) as caught:
            await certs.key_for("a" * 32)
        assert caught.value.provider_code == "bad_signature"
    assert "not retried yet; it failed with: " in caught.value.message
    assert "支付宝公钥证书不存在" in caught.value.message
    with pytest.raises(ChannelError, match="its download was refused"):
        await certs.key_for("b" * 32)
    assert asked == ["a" * 32, "b" * 32]

    clock.advance(seconds=60)
    with pytest.raises(ChannelError, match="its download was refused"):
        await certs.key_for("a" * 32)
    assert asked == ["a" * 32, "b" * 32, "a" * 32]


async def test_a_network_failure_keeps_its_code() -> None:
    async def download(sn: str) -> str:
        raise ChannelError("alipay", "timeout", "no answer within 10 s")

    with pytest.raises(ChannelError) as caught:
        await store(download, ManualClock(NOW)).key_for("a" * 32)
    assert caught.value.provider_code == "timeout"
