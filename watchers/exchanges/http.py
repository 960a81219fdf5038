"""What the three clients share: one httpx client, exact JSON, amounts and
times from the exchange's text, a clock offset, and retry-after reading.

JSON numbers are kept as their text (`parse_float=str`): HTX sends amounts
as bare JSON numbers, and a float would round them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.errors import BadInput
from engine.money import USDT_DECIMALS, parse_amount
from watchers.exchanges.errors import ExchangeError, ExchangeMalformed

log = logging.getLogger("usdtpay.watchers.exchanges")

MAX_RETRY_AFTER_S = 600.0
USER_AGENT = "usdtpay (read-only receiving account)"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    payload: Any  # parsed JSON, floats as text


def exact_json(text: str, endpoint: str) -> Any:
    try:
        return json.loads(text, parse_float=str)
    except ValueError as exc:
        raise ExchangeMalformed(f"{endpoint}: not JSON ({text[:80]!r})", endpoint=endpoint) from exc


def amount_units(value: object) -> int | None:
    """USDT atomic units from an exchange amount (text or JSON-number text);
    None when it is not a positive amount with at most 6 decimals (extra
    trailing zeros are fine: Binance writes "10.00000000")."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return parse_amount(str(value), USDT_DECIMALS)
    except BadInput:
        return None


def ms_time(value: object, field: str, endpoint: str) -> datetime:
    """A Unix time in milliseconds (int or digit text) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ExchangeMalformed(
            f"{endpoint}: {field} is not a millisecond time: {value!r}", endpoint=endpoint
        )
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def retry_after(headers: httpx.Headers, default: float) -> float:
    value = headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return default
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


class ExchangeHttp:
    """One httpx client per account; `now_ms` is local time corrected by the
    offset learnt from the exchange's time endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self.offset_ms = 0
        self.requests = 0
        self._wall = wall_clock

    def now_ms(self) -> int:
        return int(self._wall() * 1000) + self.offset_ms

    def learn_offset(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """Offset = server time minus the local midpoint of the round trip."""
        self.offset_ms = server_ms - (sent_ms + received_ms) // 2

    def local_ms(self) -> int:
        return int(self._wall() * 1000)

    async def send(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None
    ) -> Answer:
        """Send `url` (path and query exactly as signed) and parse the JSON body."""
        endpoint = url.split("?", 1)[0]
        self.requests += 1
        try:
            response = await self.client.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise ExchangeError(f"{endpoint}: timed out", retry_after=2.0, endpoint=endpoint) from exc
        except httpx.HTTPError as exc:
            raise ExchangeError(
                f"{endpoint}: {type(exc).__name__}", retry_after=2.0, endpoint=endpoint
            ) from exc
        if response.status_code >= 500:
            raise ExchangeError(
                f"{endpoint}: HTTP {response.status_code}", retry_after=2.0, endpoint=endpoint
            )
        try:
            payload = exact_json(response.text, endpoint) if response.content else None
        except ExchangeMalformed:
            if response.status_code == 200:
                raise
            payload = None  # an error page: the status says enough
        return Answer(response.status_code, response.headers, payload)

    async def aclose(self) -> None:
        await self.client.aclose()
