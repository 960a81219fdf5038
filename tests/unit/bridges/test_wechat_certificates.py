"""The WeChat certificate store and list reader without HTTP: answers come
from the simulator's own /v3/certificates handler, time from a ManualClock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bridges.wechat.certificates import CertificateStore, read_list
from engine.clock import ManualClock
from engine.fiat.channel import ChannelError
from tests.fakes.fiat_keys import rsa_key
from tests.fakes.wechat_sim import WechatSim, certificate_entry, self_signed_cert, serial_of

APIV3_KEY = "a7cde1ef41b8d0b3a2a6f0f8e5c4d3b2"
HOUR = 3600


@pytest.fixture
def sim() -> Iterator[WechatSim]:
    with WechatSim(
        mchid="1900009191",
        appid="wxd678efh567hg6787",
        merchant_public_key=rsa_key("wechat-merchant").public_key(),
        merchant_serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        apiv3_key=APIV3_KEY,
        mode="certificate",
    ) as sim:
        yield sim  # type: ignore[misc]


class Fetch:
    """The channel's signed GET, replaced by the sim's answer (or a failure)."""

    def __init__(self, sim: WechatSim, failure: ChannelError | None = None) -> None:
        self.sim, self.failure, self.calls = sim, failure, 0

    async def __call__(self) -> httpx.Response:
        self.calls += 1
        await asyncio.sleep(0)  # let concurrent callers pile up behind this one
        if self.failure is not None:
            raise self.failure
        answer = self.sim._certificates()
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)


def make_store(
    fetch: Fetch, clock: ManualClock, configured: dict[str, rsa.RSAPublicKey] | None = None
) -> CertificateStore:
    return CertificateStore(
        configured=configured or {},
        apiv3_key=APIV3_KEY.encode(),
        fetch=fetch,
        clock=clock,
        refresh_seconds=HOUR,
    )


def trusted(sim: WechatSim) -> dict[str, rsa.RSAPublicKey]:
    """The sim's current certificate, as if configured."""
    key = sim.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return {serial_of(sim.certificate): key}


def listing(*entries: dict[str, object]) -> bytes:
    return json.dumps({"data": list(entries)}).encode()


def now() -> datetime:
    return datetime.now(UTC)


def test_expired_certificates_are_skipped() -> None:
    valid = self_signed_cert(rsa_key("wechat-platform"))
    expired = self_signed_cert(rsa_key("wechat-platform-2"), expires_in=timedelta(days=-1))
    body = listing(
        certificate_entry(APIV3_KEY.encode(), valid), certificate_entry(APIV3_KEY.encode(), expired)
    )
    assert set(read_list(body, APIV3_KEY.encode(), now())) == {serial_of(valid)}


def test_a_listed_expire_time_before_the_pem_date_counts() -> None:
    entry = certificate_entry(APIV3_KEY.encode(), self_signed_cert(rsa_key("wechat-platform")))
    entry["expire_time"] = "2020-01-01T00:00:00+08:00"  # retired by WeChat, PEM still valid
    with pytest.raises(ChannelError) as caught:
        read_list(listing(entry), APIV3_KEY.encode(), now())
    assert caught.value.provider_code == "bad_response" and "expired" in caught.value.message


def test_an_entry_naming_another_serial_refuses_the_whole_list() -> None:
    good = certificate_entry(APIV3_KEY.encode(), self_signed_cert(rsa_key("wechat-platform")))
    swapped = certificate_entry(APIV3_KEY.encode(), self_signed_cert(rsa_key("wechat-platform-2")))
    swapped["serial_no"] = good["serial_no"][::-1]
    with pytest.raises(ChannelError) as caught:
        read_list(listing(good, swapped), APIV3_KEY.encode(), now())
    assert caught.value.provider_code == "bad_signature" and "holds certificate" in caught.value.message


def test_serials_compare_as_upper_case_hex_with_or_without_a_leading_zero() -> None:
    cert = self_signed_cert(rsa_key("wechat-platform"))
    entry = certificate_entry(APIV3_KEY.encode(), cert)
    entry["serial_no"] = "0" + serial_of(cert).lower()
    assert set(read_list(listing(entry), APIV3_KEY.encode(), now())) == {"0" + serial_of(cert)}


@pytest.mark.parametrize("body", [b"<html>", b"{}", b'{"data": []}', b'{"data": [1]}', b'{"data": [{}]}'])
def test_malformed_lists_are_bad_responses(body: bytes) -> None:
    with pytest.raises(ChannelError) as caught:
        read_list(body, APIV3_KEY.encode(), now())
    assert caught.value.provider_code == "bad_response"


async def test_the_first_list_must_be_signed_by_a_certificate_it_contains(sim: WechatSim) -> None:
    sim.list_signer = (rsa_key("intruder"), "7A1B2C3D4E5F60718293A4B5C6D7E8F901234567")
    store = make_store(Fetch(sim), ManualClock(now()))
    with pytest.raises(ChannelError) as caught:
        await store.ensure()
    assert caught.value.provider_code == "bad_signature" and "does not contain" in caught.value.message
    assert not store.keys


async def test_configured_certificates_are_refreshed_once_per_interval(sim: WechatSim) -> None:
    clock, fetch = ManualClock(now()), Fetch(sim)
    configured = trusted(sim)
    store = make_store(fetch, clock, configured)

    await store.ensure()
    clock.advance(seconds=HOUR - 1)
    await store.ensure()
    assert fetch.calls == 0

    clock.advance(seconds=2)
    await store.ensure()
    await store.ensure()
    assert fetch.calls == 1 and store.downloads == 1


async def test_a_failed_scheduled_refresh_keeps_the_keys_and_is_retried_soon(
    sim: WechatSim, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(now())
    fetch = Fetch(sim, ChannelError("wechat", "timeout", "no answer within 10s"))
    configured = trusted(sim)
    store = make_store(fetch, clock, configured)
    clock.advance(seconds=HOUR + 1)

    with caplog.at_level(logging.WARNING, "usdtpay.bridges.wechat"):
        await store.ensure()  # does not raise: the configured certificate still serves

    assert set(store.keys) == set(configured)
    assert "not refreshed" in caplog.text and APIV3_KEY not in caplog.text
    await store.ensure()
    assert fetch.calls == 1
    clock.advance(seconds=61)
    await store.ensure()
    assert fetch.calls == 2


async def test_concurrent_first_uses_share_one_download(sim: WechatSim) -> None:
    fetch = Fetch(sim)
    store = make_store(fetch, ManualClock(now()))
    await asyncio.gather(*(store.ensure() for _ in range(5)))
    assert fetch.calls == 1 and set(store.keys) == {sim.serial}


async def test_every_waiter_sees_the_failure_of_the_shared_download(sim: WechatSim) -> None:
    fetch = Fetch(sim, ChannelError("wechat", "unreachable", "ConnectError"))
    store = make_store(fetch, ManualClock(now()))
    results = await asyncio.gather(*(store.ensure() for _ in range(3)), return_exceptions=True)
    assert fetch.calls == 1
    assert all(isinstance(r, ChannelError) and r.provider_code == "unreachable" for r in results)


async def test_downloaded_certificates_stop_being_trusted_when_they_expire(sim: WechatSim) -> None:
    clock = ManualClock(now())
    store = make_store(Fetch(sim), clock)
    await store.ensure()
    assert set(store.keys) == {sim.serial}

    clock.advance(days=400)  # past the sim certificate's end, which the list still carries
    with pytest.raises(ChannelError) as caught:
        await store.ensure()
    assert caught.value.provider_code == "bad_response"
    assert not store.keys


async def test_unknown_serials_refresh_at_most_once_a_minute(sim: WechatSim) -> None:
    clock, fetch = ManualClock(now()), Fetch(sim)
    store = make_store(fetch, clock)
    await store.ensure()

    assert not await store.learn("7A1B2C3D")
    assert not await store.learn("7A1B2C3E")
    assert fetch.calls == 2

    new = sim.rotate()
    clock.advance(seconds=61)
    assert await store.learn(new)
    assert fetch.calls == 3
