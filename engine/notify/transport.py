"""One HTTP attempt, with no database session anywhere near it.

The destination is checked again (urls.resolve_target) and the request is
sent to the checked address with the original Host header and TLS server
name, so DNS cannot point the request elsewhere between check and connect.
Redirects are not followed; the answer is read up to a limit; the whole
attempt (resolution, connect, response) is bounded by notify.timeout_seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from engine.config import Settings
from engine.notify.schemes import SCHEMES, request_headers
from engine.notify.urls import NotifyUrlRefused, Resolver, Target, resolve_target

KEEP_BODY_BYTES = 2048
ERROR_CHARS = 500


@dataclass(frozen=True)
class Delivery:
    """What a sender needs: no ORM objects, so nothing lazy-loads mid-send."""

    delivery_id: str
    scheme: str
    url: str
    body: str
    attempt_no: int
    secret: str

    def __repr__(self) -> str:  # the merchant key must never reach a log line
        return f"Delivery({self.delivery_id}, {self.scheme}, attempt {self.attempt_no})"


@dataclass(frozen=True)
class AttemptResult:
    http_status: int | None
    latency_ms: int
    body: bytes
    error: str | None
    acknowledged: bool

    @property
    def body_text(self) -> str:
        return self.body[:KEEP_BODY_BYTES].decode("utf-8", errors="replace")[:KEEP_BODY_BYTES]


def new_client(settings: Settings) -> httpx.AsyncClient:
    """The notifier's shared client. Environment proxies are ignored: the
    request goes to the address that was checked, or nowhere."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.notify.timeout_seconds),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


def pinned_request(
    client: httpx.AsyncClient,
    target: Target,
    payload: bytes,
    headers: dict[str, str],
    *,
    method: str = "POST",
) -> httpx.Request:
    """POST the payload, or (GET) send it as the URL's query, appended to
    any query the URL already has."""
    url = httpx.URL(target.url)
    # TLS checks the certificate against the name, not the address we dial.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    content: bytes | None = payload
    if method == "GET":
        query = payload.decode("ascii")
        url = url.copy_with(query=(f"{url.query.decode('ascii')}&{query}" if url.query else query).encode())
        content = None
    return client.build_request(
        method,
        url.copy_with(host=target.address),
        content=content,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        extensions=extensions,
    )


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer.extend(chunk)
        if len(buffer) >= limit:
            break
    return bytes(buffer[:limit])


async def _post(
    client: httpx.AsyncClient,
    delivery: Delivery,
    settings: Settings,
    now: datetime,
    resolver: Resolver | None,
) -> tuple[int, bytes]:
    scheme = SCHEMES[delivery.scheme]
    target = await resolve_target(delivery.url, settings, resolver)
    payload = delivery.body.encode("utf-8")
    headers = request_headers(
        scheme, delivery.secret, payload, now, delivery.delivery_id, delivery.attempt_no
    )
    request = pinned_request(client, target, payload, headers, method=scheme.method)
    response = await client.send(request, stream=True)
    try:
        body = await read_limited(response, settings.notify.max_body_bytes)
    finally:
        await response.aclose()
    return response.status_code, body


async def send(
    client: httpx.AsyncClient,
    delivery: Delivery,
    settings: Settings,
    now: datetime,
    resolver: Resolver | None = None,
) -> AttemptResult:
    """Make one attempt and say what happened; never raises for network
    trouble (that is an outcome to record, not a crash)."""
    started = time.perf_counter()
    status: int | None = None
    body = b""
    error: str | None = None
    try:
        async with asyncio.timeout(settings.notify.timeout_seconds):
            status, body = await _post(client, delivery, settings, now, resolver)
    except NotifyUrlRefused as exc:
        error = f"refused: {exc.message}"
    except TimeoutError:
        error = f"no answer within {settings.notify.timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    latency_ms = int((time.perf_counter() - started) * 1000)
    acknowledged = status is not None and SCHEMES[delivery.scheme].acknowledged(status, body)
    if error is None and not acknowledged:
        error = f"not acknowledged: HTTP {status}"
    return AttemptResult(
        http_status=status,
        latency_ms=latency_ms,
        body=body[:KEEP_BODY_BYTES],
        error=error[:ERROR_CHARS] if error else None,
        acknowledged=acknowledged,
    )
