"""Talking to TRON nodes: several URLs with fail-over, several TronGrid API
keys rotated, rate limits and suspensions respected.

The HTTP transport is tronpy's `AsyncHTTPProvider` (one per node and key,
sharing one httpx client per key so the `TRON-PRO-API-KEY` header is fixed
per client). Its own key handling is switched off: it only sends keys to
URLs containing "trongrid", falls back to tronpy's built-in public keys,
picks keys at random, and on a 403 drops the key for good and prints to
stderr. Here a key is paused for exactly the suspension the node states,
429 and 5xx back off per key / per node, and when nothing is usable the
caller gets a `TronNodeError` with `retry_after`, so the streamer waits and
never moves its cursor.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr
from tronpy.providers.async_http import AsyncHTTPProvider

from engine.redact import mask_url, mask_urls_in
from watchers.errors import MalformedResponse, ProviderError, RateLimited

log = logging.getLogger("usdtpay.watchers.tron")

SUSPENDED_RE = re.compile(r"suspended for (\d+)\s*s", re.IGNORECASE)
MAX_BACKOFF_S = 60.0


class TronNodeError(ProviderError):
    """No node answered usably. `retry_after` says when trying again makes sense."""

    def __init__(self, message: str, *, retry_after: float = 1.0, endpoint: str = "") -> None:
        super().__init__(message, retry_after=retry_after, endpoint=endpoint)


class TronRateLimited(TronNodeError, RateLimited):
    """429, or 403 "suspended for Ns": the key (or, without keys, the node) waits."""


class TronMalformed(TronNodeError, MalformedResponse):
    """HTTP 200 with a body that is not JSON or not the documented shape."""


class TronNotFinal(TronNodeError):
    """No usable node has solidified the block yet."""


@dataclass
class _Key:
    label: str  # "key #1": keys are secrets and never logged
    value: str | None
    paused_until: float = 0.0
    strikes: int = 0


@dataclass
class _Node:
    url: str
    providers: dict[str | None, AsyncHTTPProvider] = field(default_factory=dict)
    down_until: float = 0.0
    strikes: int = 0
    solid: int | None = None  # the last solidified head this node reported
    solid_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one refresh for concurrent callers

    @property
    def label(self) -> str:
        """The URL as errors and logs show it: a key inside it masked."""
        return mask_url(self.url)


def _backoff(strikes: int, base: float = 0.5) -> float:
    return float(min(MAX_BACKOFF_S, base * 2 ** max(0, strikes - 1)))


class TronNodeClient:
    def __init__(
        self,
        urls: list[str],
        api_keys: list[SecretStr] | list[str] | None = None,
        *,
        timeout_s: float = 10.0,
        max_inline_wait_s: float = 2.0,
        max_connections: int = 16,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not urls:
            raise ValueError("configure at least one TRON node URL (USDTPAY_TRON__NODE_URLS)")
        values = [k.get_secret_value() if isinstance(k, SecretStr) else k for k in api_keys or []]
        self.keys = [_Key(f"key #{i + 1}", v) for i, v in enumerate(values)] or [_Key("no key", None)]
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients = {
            k.value: httpx.AsyncClient(
                timeout=httpx.Timeout(timeout_s),
                limits=limits,
                headers={"TRON-PRO-API-KEY": k.value} if k.value else {},
            )
            for k in self.keys
        }
        self.nodes = [_Node(url.rstrip("/") + "/") for url in urls]  # urljoin keeps a path only with "/"
        for node in self.nodes:
            for key in self.keys:
                provider = AsyncHTTPProvider(node.url, timeout=timeout_s, client=self._clients[key.value])
                provider.use_api_key = False  # see the module docstring
                node.providers[key.value] = provider
        self.max_inline_wait_s = max_inline_wait_s
        self.requests = 0
        self._clock = clock
        self._sleep = sleep
        self._key_cycle = itertools.cycle(range(len(self.keys)))

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    # -- choosing where to send -----------------------------------------
    def _pick_key(self, now: float) -> _Key | None:
        for _ in range(len(self.keys)):
            key = self.keys[next(self._key_cycle)]
            if key.paused_until <= now:
                return key
        return None

    # -- the one request path -------------------------------------------
    async def call(
        self, path: str, params: dict[str, Any] | None = None, *, needs_solid: int | None = None
    ) -> tuple[Any, int]:
        """POST `path` to the first usable node with the next usable key.

        Returns (answer, node index). `needs_solid` = a block number the
        answering node must already have solidified (a lagging node's
        solidity API answers `[]` for a block it has not reached, which
        would look like an empty block)."""
        skip: set[int] = set()
        last: TronNodeError | None = None
        for _ in range(len(self.nodes) * len(self.keys) + 3):
            now = self._clock()
            candidates = [i for i in range(len(self.nodes)) if i not in skip]
            if not candidates:
                raise TronNotFinal(f"no TRON node has solidified block {needs_solid} yet", retry_after=3.0)
            index = next((i for i in candidates if self.nodes[i].down_until <= now), None)
            key = self._pick_key(now)
            if index is None or key is None:
                node_ready = min(self.nodes[i].down_until for i in candidates) if index is None else now
                key_ready = min(k.paused_until for k in self.keys) if key is None else now
                wait = max(node_ready, key_ready) - now
                if wait > self.max_inline_wait_s:
                    resting = TronRateLimited("every TRON API key is rate-limited") if key is None else None
                    error = last or resting or TronNodeError("every TRON node is backing off")
                    error.retry_after = max(error.retry_after or 0.0, wait)
                    raise error
                await self._sleep(wait)
                continue
            try:
                if needs_solid is not None and not await self._has_solid(index, key, needs_solid):
                    skip.add(index)
                    continue
                return await self._request(index, key, path, params or {}), index
            except TronNodeError as exc:
                last = exc
        raise last or TronNodeError(f"{path}: no usable TRON node", retry_after=1.0)

    async def _has_solid(self, index: int, key: _Key, number: int) -> bool:
        node = self.nodes[index]
        if node.solid is not None and node.solid >= number:
            return True
        async with node.solid_lock:
            if node.solid is not None and node.solid >= number:
                return True  # a concurrent caller refreshed it meanwhile
            answer = await self._request(index, key, "walletsolidity/getnowblock", {})
            try:
                node.solid = int(answer["block_header"]["raw_data"]["number"])
            except (KeyError, TypeError, ValueError) as exc:
                raise self._node_failed(node, "walletsolidity/getnowblock: no raw_data.number") from exc
            return node.solid >= number

    async def _request(self, index: int, key: _Key, path: str, params: dict[str, Any]) -> Any:
        node = self.nodes[index]
        self.requests += 1
        try:
            answer = await node.providers[key.value].make_request(path, params)
        except httpx.HTTPStatusError as exc:
            raise self._status_error(node, key, path, exc.response) from exc
        except httpx.TimeoutException as exc:
            raise self._node_failed(node, f"{path}: timed out") from exc
        except httpx.HTTPError as exc:
            raise self._node_failed(node, f"{path}: {type(exc).__name__}") from exc
        except ValueError as exc:  # JSON decoding
            raise self._node_failed(node, f"{path}: malformed JSON", TronMalformed) from exc
        if isinstance(answer, dict) and "Error" in answer:
            # java-tron reports errors as HTTP 200 with an Error field.
            raise self._node_failed(node, f"{path}: node error {str(answer['Error'])[:160]!r}")
        node.strikes = 0
        key.strikes = 0
        return answer

    def _status_error(self, node: _Node, key: _Key, path: str, response: httpx.Response) -> TronNodeError:
        status, text = response.status_code, response.text[:300]
        suspended = SUSPENDED_RE.search(text)
        if status in (429, 403, 401) and key.value is None:
            # Without keys the limit is per client address: the node is what waits.
            wait = float(suspended.group(1)) if suspended else _retry_after(response, node.strikes + 1)
            node.down_until = self._clock() + wait
            node.strikes += 1
            log.warning("tron node %s rate-limited us (%s); pausing it %.1f s", node.label, status, wait)
            return TronRateLimited(
                f"{path}: HTTP {status} from {node.label}", retry_after=wait, endpoint=node.label
            )
        if status == 429 or suspended:
            key.strikes += 1
            wait = float(suspended.group(1)) if suspended else _retry_after(response, key.strikes)
            key.paused_until = self._clock() + wait
            log.warning("tron API %s rate-limited (%s); pausing it %.1f s", key.label, status, wait)
            return TronRateLimited(f"{path}: {key.label} rate-limited", retry_after=wait, endpoint=node.label)
        if status in (401, 403):
            key.paused_until = self._clock() + MAX_BACKOFF_S
            log.error("tron API %s refused (HTTP %s): check USDTPAY_TRON__API_KEYS", key.label, status)
            return TronNodeError(f"{path}: {key.label} refused with HTTP {status}", retry_after=MAX_BACKOFF_S)
        return self._node_failed(node, f"{path}: HTTP {status}")

    def _node_failed(self, node: _Node, why: str, kind: type[TronNodeError] = TronNodeError) -> TronNodeError:
        node.strikes += 1
        wait = _backoff(node.strikes)
        node.down_until = self._clock() + wait
        node.solid = None  # re-check what it has solidified when it is back
        why = mask_urls_in(why)
        log.warning("tron node %s failed (%s); next try in %.1f s", node.label, why, wait)
        return kind(f"{node.label} {why}", retry_after=wait, endpoint=node.label)


def _retry_after(response: httpx.Response, strikes: int) -> float:
    header = response.headers.get("Retry-After", "")
    if header.isdigit():
        return float(min(MAX_BACKOFF_S, max(1, int(header))))
    return _backoff(strikes, base=1.0)
