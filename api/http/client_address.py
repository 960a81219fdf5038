"""Who sent a request: the direct peer, or the client a configured reverse
proxy names (issue 12, finding 2).

Forwarding headers are believed only from a peer inside
`api.forwarded_allow_ips` (empty by default), and only the one header
`api.forwarded_header` names: `X-Forwarded-For` (what nginx's
`$proxy_add_x_forwarded_for` writes) or RFC 7239 `Forwarded`. The client is
the right-most address that is not itself a configured proxy: every hop
appends the address it saw, so anything left of that was written by the
client and proves nothing.

A request whose address cannot be known is never "trusted": forwarding
headers from a peer that is not a configured proxy (a proxy nobody
configured, so its real client is hidden), a configured proxy that sent
no header, or a hop that is not an address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from litestar import Request

from engine.config import ApiSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
_FORWARDING = frozenset(name.encode("latin-1") for name in FORWARDING_HEADERS)
SCOPE_KEY = "usdtpay.client"
UNKNOWN = "unknown"


class ClientIP(str):
    """The client's address as text, remembering whether it is known, so a
    trust check on it (api.http.faces.common.is_trusted) fails closed."""

    known: bool = True


@dataclass(frozen=True)
class Client:
    # The address the request is attributed to (rate limits, logs).
    ip: str
    # Whether `ip` is really the client: only then may it earn trust.
    known: bool

    def address(self) -> ClientIP:
        text = ClientIP(self.ip)
        text.known = self.known
        return text


_UNKNOWN_CLIENT = Client(UNKNOWN, known=False)


# Cached: every request parses its peer's address (ipaddress costs ~3 µs);
# the result is immutable, and a flood of new texts only turns the cache over.
@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress | None:
    """An address from a header hop: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`,
    `::1`; IPv4-mapped IPv6 reads as the IPv4 address; None when not one."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=64)
def parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    parsed = []
    for network in networks:
        try:
            parsed.append(ipaddress.ip_network(network.strip(), strict=False))
        except ValueError:
            continue  # config validation names bad entries; never widen on a typo
    return tuple(parsed)


def in_networks(address: IPAddress | None, networks: list[str]) -> bool:
    if address is None or not networks:
        return False
    return any(address in network for network in parse_networks(tuple(networks)))


def _hops(request: Request[Any, Any, Any], header: str) -> list[str]:
    """The addresses in the configured header, left to right, over every
    copy of the header in the order received."""
    values = request.headers.getall(header, [])
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            if header == "forwarded":
                for pair in element.split(";"):
                    name, _, hop = pair.strip().partition("=")
                    if name.lower() == "for":
                        hops.append(hop)
            else:
                hops.append(element)
    return [hop.strip() for hop in hops if hop.strip()]


@dataclass(frozen=True)
class _Peer:
    """What the direct peer's address text says, worked out once per text."""

    ip: str | None  # None: not an address
    is_proxy: bool  # inside api.forwarded_allow_ips
    # The answers for a peer that is not a proxy, with and without forwarding
    # headers (Client is immutable, so every request from it can share them).
    plain: Client | None
    forwarded: Client | None


@lru_cache(maxsize=4096)
def _peer(peer_text: str, proxies: tuple[str, ...]) -> _Peer:
    """The direct peer, kept per address text: parsing it is most of the
    work of a signed read, and a client sends many requests from one address."""
    peer = parse_ip(peer_text)
    if peer is None:
        return _Peer(None, False, None, None)
    ip = str(peer)
    return _Peer(ip, in_networks(peer, list(proxies)), Client(ip, known=True), Client(ip, known=False))


def _names_a_forwarder(request: Request[Any, Any, Any]) -> bool:
    """Whether any forwarding header was sent (read from the raw ASGI
    headers: building the request's header map costs more than this)."""
    return any(name.lower() in _FORWARDING for name, _ in request.scope["headers"])


def resolve(request: Request[Any, Any, Any], api: ApiSettings) -> Client:
    client = request.scope.get("client")  # what request.client reads, without building an Address
    peer = _peer(client[0] if client else "", tuple(api.forwarded_allow_ips))
    if peer.ip is None:
        return _UNKNOWN_CLIENT
    if not peer.is_proxy:
        client_known = peer.forwarded if _names_a_forwarder(request) else peer.plain
        assert client_known is not None
        return client_known
    hops = _hops(request, api.forwarded_header)
    if not hops:
        return Client(peer.ip, known=False)
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            return Client(UNKNOWN, known=False)
        if not in_networks(address, api.forwarded_allow_ips):
            return Client(str(address), known=True)
    # Every hop is a configured proxy: the left-most one started the chain.
    return Client(str(parse_ip(hops[0])), known=True)


@lru_cache(maxsize=4096)
def source_key(text: str, ipv6_prefix: int = 64) -> str:
    """Whom a per-source budget counts: an IPv4 address, or the IPv6 network
    of `ipv6_prefix` bits around the address (api.ipv6_source_prefix: an
    IPv6 subscriber gets a whole /64 and may use any address in it).
    Cached like parse_ip: rendering the address is most of its cost."""
    address = parse_ip(text)
    if address is None:
        return UNKNOWN
    if address.version == 6:
        return str(ipaddress.ip_network((address, ipv6_prefix), strict=False))
    return str(address)


def _api_settings(request: Request[Any, Any, Any]) -> ApiSettings:
    state = getattr(request.app.state, "app_state", None)
    return state.settings.api if state is not None else ApiSettings()


def client_of(request: Request[Any, Any, Any], api: ApiSettings | None = None) -> Client:
    """The request's client, worked out once per request (`api`: the
    settings, when the caller has them at hand)."""
    scope = cast("dict[str, Any]", request.scope)
    cached = scope.get(SCOPE_KEY)
    if isinstance(cached, Client):
        return cached
    client = resolve(request, api if api is not None else _api_settings(request))
    scope[SCOPE_KEY] = client
    return client


def client_source(request: Request[Any, Any, Any], api: ApiSettings | None = None) -> str:
    """The request's client as a per-source budget key (source_key)."""
    api = api if api is not None else _api_settings(request)
    return source_key(client_of(request, api).ip, api.ipv6_source_prefix)


def is_trusted_client(request: Request[Any, Any, Any], networks: list[str]) -> bool:
    """Whether the request comes from one of `networks` (CIDR text), as far
    as can be known: an unknown client is never trusted."""
    client = client_of(request)
    return client.known and in_networks(parse_ip(client.ip), networks)
