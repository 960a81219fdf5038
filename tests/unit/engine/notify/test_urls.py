"""Outbound safety: notify URLs that point into private space are refused
at creation and at delivery, unless the operator allowlists them."""

from __future__ import annotations

import logging

import pytest

from engine.config import NotifySettings, Settings
from engine.errors import BadInput
from engine.notify.urls import (
    NotifyUrlRefused,
    NotifyUrlUnresolvable,
    check_notify_url,
    resolve_target,
)

# A resolver for names the test controls (no outside DNS needed).
ZONE = {
    "shop.example": ["93.184.215.14"],
    "intranet.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.215.14", "192.168.1.10"],
    "v6.example": ["2606:4700:4700::1111"],
    "v6-loop.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.0.7"],
}


async def zone(host: str, port: int) -> list[str]:
    if host not in ZONE:
        raise OSError(-2, "Name or service not known")
    return ZONE[host]


def settings(*allow: str) -> Settings:
    return Settings(notify=NotifySettings(allow_hosts=list(allow)))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/notify",
        "http://127.8.9.1:8080/notify",
        "http://10.0.0.5/notify",
        "http://172.16.3.4/notify",
        "http://192.168.0.1/notify",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/notify",
        "http://224.0.0.1/notify",
        "http://240.0.0.1/notify",
        "http://[::1]/notify",
        "http://[fe80::1]/notify",
        "http://[fc00::1]/notify",
        "http://intranet.example/notify",
        "http://metadata.example/notify",
        "https://mixed.example/notify",
        "http://v6-loop.example/notify",
        "http://mapped.example/notify",
        "http://cgnat.example/notify",
    ],
)
async def test_private_destinations_are_refused(url: str) -> None:
    with pytest.raises(NotifyUrlRefused) as caught:
        await check_notify_url(url, settings(), resolver=zone)
    assert isinstance(caught.value, BadInput)  # faces answer 422
    assert caught.value.status == 422
    assert "USDTPAY_NOTIFY__ALLOW_HOSTS" in caught.value.message


async def test_localhost_by_name_is_refused_with_the_system_resolver() -> None:
    with pytest.raises(NotifyUrlRefused, match="loopback"):
        await check_notify_url("http://localhost:9/notify", settings())


@pytest.mark.parametrize(
    "url", ["https://shop.example/notify", "http://v6.example:8080/cb", "http://93.184.215.14/x"]
)
async def test_public_destinations_pass(url: str) -> None:
    await check_notify_url(url, settings(), resolver=zone)
    target = await resolve_target(url, settings(), zone)
    assert target.address in (*ZONE.get(target.host, []), "93.184.215.14")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example/x",
        "file:///etc/passwd",
        "shop.example/notify",
        "http:///x",
        "http://u:p@shop.example/",
    ],
)
async def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(NotifyUrlRefused):
        await check_notify_url(url, settings(), resolver=zone)


async def test_bad_port_is_refused() -> None:
    with pytest.raises(NotifyUrlRefused, match="not a valid URL"):
        await check_notify_url("http://shop.example:99999/x", settings(), resolver=zone)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:8080/notify", "127.0.0.1"),
        ("http://10.9.8.7/notify", "10.0.0.0/8"),
        ("http://intranet.example/notify", "intranet.example"),
        ("http://intranet.example/notify", "*.example"),
        ("http://intranet.example/notify", "10.1.2.0/24"),
        ("http://[::1]:81/n", "::1"),
    ],
)
async def test_allowlist_admits_host_or_network(url: str, allow: str) -> None:
    await check_notify_url(url, settings(allow), resolver=zone)


async def test_allowlisting_one_network_does_not_admit_another() -> None:
    with pytest.raises(NotifyUrlRefused, match=r"192\.168\.1\.10"):
        await check_notify_url("http://mixed.example/", settings("10.0.0.0/8"), resolver=zone)
    with pytest.raises(NotifyUrlRefused):
        await check_notify_url("http://metadata.example/", settings("intranet.example"), resolver=zone)


async def test_empty_url_means_no_notifications() -> None:
    await check_notify_url("", settings(), resolver=zone)


async def test_unresolvable_name_is_accepted_at_creation_but_refused_at_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="usdtpay.notify"):
        await check_notify_url("https://nowhere.example/notify", settings(), resolver=zone)
    assert "does not resolve" in caplog.text
    with pytest.raises(NotifyUrlUnresolvable):
        await resolve_target("https://nowhere.example/notify", settings(), zone)
