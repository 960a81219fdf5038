"""Turn web3 / aiohttp failures into the streamer's provider errors.

Providers word "your range is too large" in many ways (Infura: "query
returned more than 10000 results"; Alchemy: "Log response size exceeded";
others: "block range is too wide", "exceed maximum block range: 5000"), so
the message is matched against a few patterns after the rate-limit ones.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
from web3.exceptions import BadResponseFormat, Web3RPCError

from engine.redact import mask_url, mask_urls_in
from watchers.errors import MalformedResponse, ProviderError, RangeTooLarge, RateLimited

RATE_LIMIT = re.compile(r"rate.?limit|too many requests|429|exceeded .*(quota|capacity)|daily request", re.I)
RANGE = re.compile(
    r"more than \d+ results|response size|too many (results|logs)|block range|range (is )?too"
    r"|maximum (block )?range|range limit|limited to .*range|max(imum)? results|query timeout exceeded",
    re.I,
)


def _retry_after(headers: object) -> float | None:
    value = getattr(headers, "get", lambda _k: None)("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: the exponential backoff applies instead


def classify(exc: BaseException, endpoint: str) -> ProviderError:
    """The ProviderError the streamer acts on, keeping the original as cause."""
    if isinstance(exc, ProviderError):
        return exc
    # aiohttp and web3 quote the URL they failed on, key and all: mask
    # before cutting, so no part of a key survives a cut.
    endpoint = mask_url(endpoint)
    text = f"{endpoint}: {type(exc).__name__}: {mask_urls_in(str(exc))[:300]}"
    if isinstance(exc, aiohttp.ClientResponseError):
        retry_after = _retry_after(exc.headers)
        if exc.status in (429, 403):  # 403: a suspended key or IP, wait as for 429
            return RateLimited(text, retry_after=retry_after, endpoint=endpoint)
        if exc.status == 413:
            return RangeTooLarge(text, endpoint=endpoint)
        return ProviderError(text, retry_after=retry_after, endpoint=endpoint)
    if isinstance(exc, Web3RPCError):
        if RATE_LIMIT.search(exc.message):
            return RateLimited(text, endpoint=endpoint)
        if RANGE.search(exc.message):
            return RangeTooLarge(text, endpoint=endpoint)
        return ProviderError(text, endpoint=endpoint)
    if isinstance(exc, BadResponseFormat | json.JSONDecodeError | aiohttp.ContentTypeError | KeyError):
        return MalformedResponse(text, endpoint=endpoint)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ProviderError(f"{endpoint}: timed out", endpoint=endpoint)
    return ProviderError(text, endpoint=endpoint)
