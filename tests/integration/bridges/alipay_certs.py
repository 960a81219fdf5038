"""Alipay certificate mode for the bridge tests: the simulator as the open
platform that issued the certificates, settings and a channel that trust
what it issued, and a whole app wired to it (`cert_world`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from api.http.app import create_app
from bridges.alipay import AlipayChannel
from engine.config import AlipaySettings
from engine.fiat.channel import ClientKind, PaymentRequest
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_http import bind_loopback, serve_app, socket_url
from tests.fakes.fiat_keys import cert_pem, issue_certificate, rsa_key
from tests.fakes.quickpay_sim import QuickPaySim
from tests.fakes.wechat_sim import WechatSim
from tests.integration.bridges.world import ALIPAY_APP_ID, SELLER_ID, World, alipay_settings, world_settings


@pytest.fixture
def cert_sim() -> Iterator[AlipaySim]:
    with AlipaySim(
        app_id=ALIPAY_APP_ID,
        seller_id=SELLER_ID,
        app_public_key=rsa_key("alipay-app").public_key(),
        certificates=True,
    ) as sim:
        yield sim  # type: ignore[misc]


def cert_settings(sim: AlipaySim, tmp_path: Path, **overrides: Any) -> AlipaySettings:
    """Certificate mode as operators set it: the downloaded files, by path."""
    assert sim.certs is not None
    files = {
        "app_cert": f"appCertPublicKey_{ALIPAY_APP_ID}.crt",
        "alipay_cert": "alipayCertPublicKey_RSA2.crt",
        "alipay_root_cert": "alipayRootCert.crt",
    }
    paths = {}
    for setting, name in files.items():
        (tmp_path / name).write_text(getattr(sim.certs, setting))
        paths[setting] = str(tmp_path / name)
    # No alipay_public_key: certificate mode must not need one.
    values = {"key_mode": "certificate", "alipay_public_key": ""} | paths | overrides
    return alipay_settings(sim, **values)


def channel(sim: AlipaySim, tmp_path: Path, **overrides: Any) -> AlipayChannel:
    return AlipayChannel(cert_settings(sim, tmp_path, **overrides), notify_url="http://127.0.0.1:9/n")


def self_signed(cn: str, key_name: str) -> str:
    """A certificate Alipay never issued, for a key we hold."""
    key = rsa_key(key_name)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return cert_pem(issue_certificate(name, key.public_key(), issuer_key=key, serial=4242))


def request(no: str, kind: ClientKind = ClientKind.QR) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no=no,
        amount_fen=1234,
        subject="order",
        kind=kind,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        notify_url="",
        return_url="https://merchant.example/return",
    )


def sent_params(sim: AlipaySim, index: int = -1) -> dict[str, str]:
    """The parameters of a request the gateway received (POST form or GET URL)."""
    got = sim.requests[index]
    raw = got.body.decode() if got.method == "POST" else urlsplit(got.path).query
    return dict(parse_qsl(raw, keep_blank_values=True))


@pytest.fixture
async def cert_world(
    db: Db, tmp_path: Path, wechat_sim: WechatSim, cert_sim: AlipaySim, quickpay_sim: QuickPaySim
) -> AsyncIterator[World]:
    await make_merchant(db)
    sock = bind_loopback()
    settings = world_settings(db, socket_url(sock), (wechat_sim, cert_sim, quickpay_sim), tmp_path)
    settings.alipay = cert_settings(cert_sim, tmp_path)
    app = create_app(settings)
    async with serve_app(app, sock) as url:
        yield World(db, url, app.state.app_state, wechat_sim, cert_sim, quickpay_sim)
