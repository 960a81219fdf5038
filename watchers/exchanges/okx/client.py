"""OKX v5: deposit history of a receiving account, read with a read-only key.

Signing (OKX "REST Authentication"): OK-ACCESS-SIGN = Base64(HMAC-SHA256(
secret, timestamp + METHOD + requestPath-with-query + body)), timestamp in
ISO 8601 with milliseconds, sent with OK-ACCESS-KEY / -TIMESTAMP /
-PASSPHRASE. Error 50102 (timestamp expired) re-syncs with
GET /api/v5/public/time and retries once; 50011 / HTTP 429 is the rate
limit. Pages: `before` = newer than, `after` = older than (ms), 100 rows,
newest first (as ccxt reads it; the doc's own example has them swapped).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from engine.exchanges.ports import READ, TRADE, WITHDRAW, ExchangeRecord, KeyCheck
from watchers.exchanges.errors import (
    ClockSkew,
    ExchangeAuthError,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
)
from watchers.exchanges.http import ExchangeHttp, amount_units, ms_time, retry_after, text, to_ms
from watchers.exchanges.limiter import Budget, key_digest, shared_buckets

log = logging.getLogger("usdtpay.watchers.exchanges.okx")

DEPOSITS = "/api/v5/asset/deposit-history"
CONFIG = "/api/v5/account/config"
TIME = "/api/v5/public/time"
PAGE = 100
# Documented limits (per User ID for private endpoints, per IP for public).
BUDGETS = {
    DEPOSITS: Budget(6, 1.0, "6 requests / s per User ID"),
    CONFIG: Budget(5, 2.0, "5 requests / 2 s per User ID"),
    TIME: Budget(10, 2.0, "10 requests / 2 s per IP"),
}
AUTH_CODES = {"50100", "50101", "50103", "50104", "50105", "50106", "50107", "50110", "50111"}
AUTH_CODES |= {"50112", "50113", "50114", "50119", "50120", "50030"}
RATE_CODES = {"50011", "50013", "50040", "50061"}
SUPPLEMENT_FILTERS = ("depId", "fromWdId", "txId")
FINAL_STATE = "2"
RIGHTS = {"read_only": READ, "trade": TRADE, "withdraw": WITHDRAW}


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def sign(secret: str, timestamp: str, method: str, path: str, body: str = "") -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}{method.upper()}{path}{body}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class OkxClient:
    exchange = "okx"

    def __init__(
        self,
        *,
        api_key: str,
        secret: str,
        passphrase: str,
        base_url: str = "https://www.okx.com",
        simulated: bool = False,
        timeout_s: float = 10.0,
        share: float = 0.5,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = ExchangeHttp(base_url, timeout_s=timeout_s, wall_clock=wall_clock)
        self._key, self._secret, self._passphrase = api_key, secret, passphrase
        self._simulated = simulated
        self.buckets = shared_buckets(f"okx:{key_digest(api_key)}", BUDGETS, share)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- the request path ------------------------------------------------
    async def sync_clock(self) -> None:
        await self.buckets[TIME].take()
        sent = self.http.local_ms()
        answer = await self.http.send("GET", TIME)
        received = self.http.local_ms()
        rows = self._data(answer.payload, TIME)
        try:
            server = int(rows[0]["ts"])
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise ExchangeMalformed(f"{TIME}: no ts", endpoint=TIME) from exc
        self.http.learn_offset(server, sent, received)
        log.info("okx clock offset %d ms", self.http.offset_ms)

    async def get(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """A signed GET; one clock re-sync and retry on 50102."""
        try:
            return await self._get_once(path, params or {})
        except ClockSkew:
            await self.sync_clock()
            return await self._get_once(path, params or {})

    async def _get_once(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        url = f"{path}?{urlencode(params)}" if params else path
        await self.buckets[path].take()
        timestamp = iso_ms(self.http.now_ms())
        headers = {
            "OK-ACCESS-KEY": self._key,
            "OK-ACCESS-SIGN": sign(self._secret, timestamp, "GET", url),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": self._passphrase,
        }
        if self._simulated:
            headers["x-simulated-trading"] = "1"
        answer = await self.http.send("GET", url, headers=headers)
        payload = answer.payload if isinstance(answer.payload, dict) else {}
        code = str(payload.get("code", ""))
        message = f"{path}: OKX {code or answer.status} {str(payload.get('msg', ''))[:120]}"
        if answer.status == 429 or code in RATE_CODES:
            wait = retry_after(answer.headers, 1.0)
            self.buckets[path].pause(wait)
            raise ExchangeRateLimited(message, retry_after=wait, endpoint=path, code=code)
        if code == "50102":
            raise ClockSkew(message, retry_after=1.0, endpoint=path, code=code)
        if code in AUTH_CODES or answer.status in (401, 403):
            raise ExchangeAuthError(message, retry_after=300.0, endpoint=path, code=code)
        if answer.status != 200 or code != "0":
            raise ExchangeError(message, retry_after=5.0, endpoint=path, code=code)
        return self._data(answer.payload, path)

    @staticmethod
    def _data(payload: Any, path: str) -> list[dict[str, Any]]:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ExchangeMalformed(f"{path}: no data list", endpoint=path)
        return data

    # -- what the engine asks ----------------------------------------------
    async def check_key(self) -> KeyCheck:
        rows = await self.get(CONFIG)
        if not rows or not text(rows[0], "uid"):
            raise ExchangeMalformed(f"{CONFIG}: no uid", endpoint=CONFIG)
        config = rows[0]
        perms = {p.strip() for p in text(config, "perm").split(",") if p.strip()}
        rights = frozenset(RIGHTS.get(p, p) for p in perms)
        try:
            await self.get(DEPOSITS, {"limit": "1"})
            can_read = True
        except ExchangeAuthError:
            can_read = False
        notes = (f"bound to IP {text(config, 'ip')}",) if text(config, "ip") else ()
        return KeyCheck("okx", text(config, "uid"), rights, can_read, text(config, "label"), notes)

    async def incoming(self, start: datetime, end: datetime) -> list[ExchangeRecord]:
        low, high = to_ms(start), to_ms(end)
        found: dict[str, ExchangeRecord] = {}
        after = high + 1  # "older than": the first page ends at `end` inclusive
        while True:
            rows = await self.get(DEPOSITS, {"before": str(low - 1), "after": str(after), "limit": str(PAGE)})
            records = [self.record(row) for row in rows]
            found.update((r.record_id, r) for r in records if low <= to_ms(r.time) <= high)
            if len(rows) < PAGE:
                return list(found.values())
            oldest = min(to_ms(r.time) for r in records)
            # Ask again from the oldest millisecond (inclusive): rows sharing it
            # may straddle the page boundary; the ids de-duplicate.
            if oldest + 1 >= after:
                raise ExchangeError(f"{DEPOSITS}: over {PAGE} records in one millisecond", endpoint=DEPOSITS)
            after = oldest + 1

    async def find(self, hash: str, p_addr: str, start: datetime, end: datetime) -> list[ExchangeRecord]:
        """One filtered call per plausible meaning of each id: deposit and
        withdrawal ids are digits, anything else can only be a txId. The
        first id that names a record is enough."""
        for value in dict.fromkeys(v.strip() for v in (hash, p_addr) if v and v.strip()):
            found: dict[str, ExchangeRecord] = {}
            for name in SUPPLEMENT_FILTERS if value.isdigit() else ("txId",):
                for row in await self.get(DEPOSITS, {name: value}):
                    record = self.record(row)
                    found[record.record_id] = record
            if found:
                return list(found.values())
        return []

    @staticmethod
    def record(row: dict[str, Any]) -> ExchangeRecord:
        dep_id = text(row, "depId")
        if not dep_id:
            raise ExchangeMalformed(f"{DEPOSITS}: a row without depId", endpoint=DEPOSITS)
        from_wd = text(row, "fromWdId")
        refs = {k: text(row, k) for k in ("depId", "fromWdId", "txId", "chain", "to") if text(row, k)}
        return ExchangeRecord(
            exchange="okx",
            record_id=dep_id,
            source="deposit",
            currency=text(row, "ccy").upper(),
            amount_text=text(row, "amt"),
            amount_units=amount_units(row.get("amt")),
            final=text(row, "state") == FINAL_STATE,
            state=text(row, "state"),
            time=ms_time(row.get("ts"), "ts", DEPOSITS),
            internal=bool(from_wd) or not text(row, "to"),
            sender=text(row, "from"),
            refs=refs,
        )
