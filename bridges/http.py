"""One way to call a provider: httpx (async), with transport failures turned
into ChannelError so callers see one kind of error."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from engine.fiat.channel import ChannelError

# Provider answers are small; anything larger is not a payment API talking.
MAX_RESPONSE_BYTES = 1024 * 1024


def make_client(base_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds),
        headers={"User-Agent": "usdtpay-bridge/0.1"},
        follow_redirects=False,
    )


async def send(
    client: httpx.AsyncClient,
    channel: str,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one request. A timeout is ambiguous (the provider may have acted),
    so its message tells the caller to query before retrying."""
    try:
        response = await client.request(method, url, content=content, headers=dict(headers or {}))
    except httpx.TimeoutException as exc:
        raise ChannelError(
            channel,
            "timeout",
            f"no answer within {client.timeout.read}s ({type(exc).__name__})",
            hint="the request may have reached the provider: query the payment before retrying",
        ) from exc
    except httpx.HTTPError as exc:
        raise ChannelError(
            channel,
            "unreachable",
            f"{type(exc).__name__}: {str(exc)[:200]}",
            hint="check the gateway URL setting and the network, then retry",
        ) from exc
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ChannelError(
            channel, "bad_response", "response body too large", http_status=response.status_code
        )
    return response
