"""The per-peer answers api.http.client_address keeps (one parse per address
text) never carry one request's verdict over to another from the same peer."""

from __future__ import annotations

from typing import Any

from litestar import Request

from api.http.client_address import UNKNOWN, resolve, source_key
from engine.config import ApiSettings


def request_from(peer: str, *headers: tuple[bytes, bytes]) -> Request[Any, Any, Any]:
    scope: Any = {"type": "http", "method": "GET", "client": (peer, 5000), "headers": list(headers)}
    return Request(scope)


def test_a_forwarding_header_unknows_only_its_own_request() -> None:
    api = ApiSettings()
    plain = resolve(request_from("203.0.113.7"), api)
    forwarded = resolve(request_from("203.0.113.7", (b"X-Forwarded-For", b"198.51.100.1")), api)
    again = resolve(request_from("203.0.113.7"), api)
    assert (plain.ip, plain.known) == ("203.0.113.7", True)
    assert (forwarded.ip, forwarded.known) == ("203.0.113.7", False)  # a proxy nobody configured
    assert (again.ip, again.known) == ("203.0.113.7", True)


def test_a_peer_is_a_proxy_only_under_the_settings_that_name_it() -> None:
    hop = (b"x-forwarded-for", b"198.51.100.1")
    direct = resolve(request_from("127.0.0.1", hop), ApiSettings())
    proxied = resolve(request_from("127.0.0.1", hop), ApiSettings(forwarded_allow_ips=["127.0.0.1/32"]))
    assert (direct.ip, direct.known) == ("127.0.0.1", False)
    assert (proxied.ip, proxied.known) == ("198.51.100.1", True)


def test_no_address_and_source_keys() -> None:
    unknown = resolve(request_from("not-an-address"), ApiSettings())
    assert (unknown.ip, unknown.known) == (UNKNOWN, False)
    assert source_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert source_key("2001:db8::1", 64) == "2001:db8::/64" != source_key("2001:db8::1", 48)
    assert source_key("junk") == UNKNOWN
