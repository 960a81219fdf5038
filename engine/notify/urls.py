"""Outbound safety for merchant notify URLs.

A notify URL is chosen by whoever creates an order, so without a check the
engine could be made to POST into its own network (metadata services,
databases, admin panels). A URL is refused when its scheme is not http(s)
or when any address its host resolves to is loopback, private, link-local,
multicast, reserved, unspecified or otherwise not globally routable, unless
`notify.allow_hosts` admits the host name or the address's network.

The check runs at order creation (a clear 422) and again before every
delivery, because DNS answers change; delivery then connects to the very
address that was checked, so a rebinding name cannot swap it in between.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from engine.config import Settings
from engine.errors import BadInput

log = logging.getLogger("usdtpay.notify")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the host resolves to
Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_TIMEOUT_S = 5.0


class NotifyUrlRefused(BadInput):
    """The notify URL points somewhere the engine must not send to."""

    code = "notify_url_refused"


class NotifyUrlUnresolvable(NotifyUrlRefused):
    """The host did not resolve (now); at creation this is only a warning."""

    code = "notify_url_unresolvable"


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, present `host`."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def split_notify_url(url: str) -> tuple[SplitResult, str, int]:
    """Syntax only: http(s), a host, a valid port. Returns (parts, host, port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise NotifyUrlRefused(f"notify_url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise NotifyUrlRefused("notify_url must start with http:// or https://")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise NotifyUrlRefused("notify_url has no host name")
    if parts.username is not None or parts.password is not None:
        raise NotifyUrlRefused("notify_url must not carry a user name or password")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def _allow_lists(settings: Settings) -> tuple[set[str], list[IPNetwork]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in settings.notify.allow_hosts:
        text = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            if text:
                names.add(text)
    return names, networks


def name_allowed(host: str, names: set[str]) -> bool:
    """Exact names, or `*.example.com` for any name below example.com."""
    if host in names:
        return True
    return any(n.startswith("*.") and host.endswith(n[1:]) for n in names)


NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 form carries and reaches through a relay or
    translator: IPv4-mapped, 6to4 (2002::/16), Teredo (its client), NAT64
    (64:ff9b::/96, 64:ff9b:1::/48) and the old IPv4-compatible ::/96."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in prefix for prefix in NAT64_PREFIXES):
        return "NAT64", low32
    if address in IPV4_COMPATIBLE and int(address) > 1:
        return "IPv4-compatible", low32
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why an address is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            form, ipv4 = embedded
            inner = address_problem(ipv4)
            # A 6to4 or NAT64 address of a private IPv4 reaches that host;
            # one of a public IPv4 is still judged as the IPv6 address it is.
            if inner is not None:
                return f"{form} form of a {inner} IPv4"
            if form == "IPv4-mapped":  # the IPv4 address itself, as before
                return None
    for flag in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    if not address.is_global:
        return "not globally routable"
    return None


def check_addresses(host: str, addresses: Sequence[str], settings: Settings) -> str:
    """Refuse unless every address is public or allowlisted; returns the
    address to connect to (the first one)."""
    names, networks = _allow_lists(settings)
    by_name = name_allowed(host, names)
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        problem = address_problem(address)
        if problem is None or by_name or any(address in net for net in networks):
            continue
        raise NotifyUrlRefused(
            f"notify_url host {host} resolves to {address}, a {problem} address; use a public "
            "URL, or have the operator add the host to USDTPAY_NOTIFY__ALLOW_HOSTS"
        )
    if not addresses:
        raise NotifyUrlUnresolvable(f"notify_url host {host} has no address")
    return addresses[0]


async def resolve_target(url: str, settings: Settings, resolver: Resolver | None = None) -> Target:
    """Check `url` fully: syntax, then every resolved address.

    Raises NotifyUrlUnresolvable when the name does not resolve and
    NotifyUrlRefused when it resolves somewhere forbidden.
    """
    parts, host, port = split_notify_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                addresses = await (resolver or system_resolver)(host, port)
        except (OSError, TimeoutError) as exc:
            raise NotifyUrlUnresolvable(f"notify_url host {host} does not resolve: {exc}") from exc
    address = check_addresses(host, addresses, settings)
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=address)


class CachingResolver:
    """Remembers answers for a short time. Only the order-creation check uses
    it (merchants send the same notify host with every order); deliveries
    always resolve afresh, so a changed record is still checked before
    anything is sent."""

    def __init__(self, resolve: Resolver, ttl_s: float = 30.0, max_entries: int = 1024) -> None:
        self.resolve = resolve
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        now = time.monotonic()
        cached = self._answers.get((host, port))
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        addresses = await self.resolve(host, port)
        if len(self._answers) >= self.max_entries:
            self._answers.clear()
        self._answers[(host, port)] = (now, addresses)
        return addresses


creation_resolver = CachingResolver(system_resolver)


async def check_notify_url(url: str, settings: Settings, *, resolver: Resolver | None = None) -> None:
    """The order-creation check every face calls where it reads notify_url.

    An empty URL means "no notifications" and passes. A malformed URL or one
    resolving to a forbidden address raises NotifyUrlRefused (a BadInput,
    422). A name that does not resolve right now is accepted with a warning:
    a resolver hiccup must not fail order creation, and every delivery
    checks again (failing attempts show the reason in `usdtpay notify list`).
    """
    if not url:
        return
    key = (url, tuple(settings.notify.allow_hosts))
    if resolver is None:
        seen = _accepted.get(key)
        if seen is not None and time.monotonic() - seen < creation_resolver.ttl_s:
            return
    try:
        await resolve_target(url, settings, resolver or creation_resolver)
    except NotifyUrlUnresolvable as exc:
        log.warning("accepting notify_url for now: %s", exc.message)
        return
    if resolver is None:
        if len(_accepted) >= 1024:
            _accepted.clear()
        _accepted[key] = time.monotonic()


# URLs the creation check accepted, and when. Merchants send the same
# notify_url with every order, and the answer cannot change before the
# resolver's remembered addresses expire (the allow list is part of the
# key); parsing and checking it again cost more than the rest of a create.
_accepted: dict[tuple[str, tuple[str, ...]], float] = {}
