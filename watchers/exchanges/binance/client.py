"""Binance: deposit history and Binance Pay history, read with a read-only key.

Signing (Binance "SIGNED endpoint security"): the query carries
`timestamp` (ms) and `recvWindow`; `signature` = hex HMAC-SHA256(secret,
the query string), and the key travels in X-MBX-APIKEY. -1021 (timestamp
outside recvWindow) re-syncs with GET /api/v3/time and retries once. 429
pauses for Retry-After; 418 is an IP ban, paused for its Retry-After.

Sources: `deposit` = /sapi/v1/capital/deposit/hisrec (internal transfers
carry transferType 1 and a txId "Internal transfer <n>"; offset paging,
1000 rows); `pay` = /sapi/v1/pay/transactions ("send to a Binance user",
no offset: a full page of 100 halves the window).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from engine.exchanges.ports import READ, TRADE, TRANSFER, WITHDRAW, ExchangeRecord, KeyCheck
from watchers.exchanges.errors import (
    ClockSkew,
    ExchangeAuthError,
    ExchangeBanned,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
)
from watchers.exchanges.http import ExchangeHttp, amount_units, ms_time, retry_after, text, to_ms
from watchers.exchanges.limiter import Bucket, Budget, key_digest, shared_buckets

log = logging.getLogger("usdtpay.watchers.exchanges.binance")

DEPOSITS = "/sapi/v1/capital/deposit/hisrec"
PAY = "/sapi/v1/pay/transactions"
RESTRICTIONS = "/sapi/v1/account/apiRestrictions"
ACCOUNT = "/api/v3/account"
TIME = "/api/v3/time"
DEPOSIT_PAGE = 1000
PAY_PAGE = 100
MAX_WINDOW = timedelta(days=89)  # both histories refuse windows of 90 days or more
# Weight pools as documented: /sapi IP-limited 12,000 / min, /sapi UID-limited
# 180,000 / min, /api IP-limited 6,000 / min.
POOLS = {
    "sapi_ip": Budget(12_000, 60.0, "12,000 weight / min per IP (/sapi)"),
    "sapi_uid": Budget(180_000, 60.0, "180,000 weight / min per UID (/sapi)"),
    "api_ip": Budget(6_000, 60.0, "6,000 weight / min per IP (/api)"),
}
# (pool, weight) per endpoint.
WEIGHTS = {
    DEPOSITS: ("sapi_ip", 1),
    RESTRICTIONS: ("sapi_ip", 1),
    PAY: ("sapi_uid", 3000),
    ACCOUNT: ("api_ip", 20),
    TIME: ("api_ip", 1),
}
AUTH_CODES = {-1002, -1022, -2008, -2014, -2015}
FINAL_STATUS = "1"
# apiRestrictions flags and the right each grants.
FLAGS = {
    "enableReading": READ,
    "enableWithdrawals": WITHDRAW,
    "enableInternalTransfer": TRANSFER,
    "permitsUniversalTransfer": TRANSFER,
    "enableSpotAndMarginTrading": TRADE,
    "enableMargin": TRADE,
    "enableFutures": TRADE,
    "enableVanillaOptions": TRADE,
    "enablePortfolioMarginTrading": TRADE,
    "enableFixApiTrade": TRADE,
}


def sign(secret: str, query: str) -> str:
    return hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


def windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    spans = []
    while start <= end:
        stop = min(end, start + MAX_WINDOW)
        spans.append((start, stop))
        start = stop + timedelta(milliseconds=1)
    return spans


class BinanceClient:
    exchange = "binance"

    def __init__(
        self,
        *,
        api_key: str,
        secret: str,
        base_url: str = "https://api.binance.com",
        sources: Sequence[str] = ("deposit", "pay"),
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        share: float = 0.5,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = set(sources) - {"deposit", "pay"}
        if unknown or not sources:
            raise ValueError(f"binance sources are deposit and/or pay, not {sorted(unknown)}")
        self.http = ExchangeHttp(base_url, timeout_s=timeout_s, wall_clock=wall_clock)
        self._key, self._secret = api_key, secret
        self.sources = tuple(sources)
        self.recv_window_ms = recv_window_ms
        self.buckets = shared_buckets(f"binance:{key_digest(api_key)}", POOLS, share)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- the request path ------------------------------------------------
    async def _take(self, path: str) -> Bucket:
        pool, weight = WEIGHTS[path]
        bucket = self.buckets[pool]
        await bucket.take(weight)
        return bucket

    async def sync_clock(self) -> None:
        await self._take(TIME)
        sent = self.http.local_ms()
        answer = await self.http.send("GET", TIME)
        received = self.http.local_ms()
        payload = answer.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("serverTime"), int):
            raise ExchangeMalformed(f"{TIME}: no serverTime", endpoint=TIME)
        self.http.learn_offset(payload["serverTime"], sent, received)
        log.info("binance clock offset %d ms", self.http.offset_ms)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            return await self._get_once(path, params or {})
        except ClockSkew:
            await self.sync_clock()
            return await self._get_once(path, params or {})

    async def _get_once(self, path: str, params: dict[str, str]) -> Any:
        bucket = await self._take(path)
        query = urlencode(
            {**params, "recvWindow": str(self.recv_window_ms), "timestamp": str(self.http.now_ms())}
        )
        url = f"{path}?{query}&signature={sign(self._secret, query)}"
        answer = await self.http.send("GET", url, headers={"X-MBX-APIKEY": self._key})
        body = answer.payload
        code = body.get("code") if isinstance(body, dict) else None
        message = f"{path}: Binance {code if code is not None else answer.status}"
        if isinstance(body, dict) and body.get("msg"):
            message += f" {str(body['msg'])[:120]}"
        if answer.status in (418, 429):
            kind = ExchangeBanned if answer.status == 418 else ExchangeRateLimited
            wait = retry_after(answer.headers, 60.0 if answer.status == 418 else 1.0)
            bucket.pause(wait)
            raise kind(message, retry_after=wait, endpoint=path, code=str(code or answer.status))
        if code == -1021:
            raise ClockSkew(message, retry_after=1.0, endpoint=path, code="-1021")
        if code in AUTH_CODES or answer.status in (401, 403):
            raise ExchangeAuthError(
                message, retry_after=300.0, endpoint=path, code=str(code or answer.status)
            )
        if answer.status != 200:
            raise ExchangeError(message, retry_after=5.0, endpoint=path, code=str(code or answer.status))
        return body

    # -- what the engine asks ----------------------------------------------
    async def check_key(self) -> KeyCheck:
        flags = await self.get(RESTRICTIONS)
        account = await self.get(ACCOUNT, {"omitZeroBalances": "true"})
        if not isinstance(flags, dict) or not isinstance(account, dict) or not text(account, "uid"):
            raise ExchangeMalformed(f"{RESTRICTIONS} / {ACCOUNT}: unexpected shape", endpoint=ACCOUNT)
        rights = frozenset(right for flag, right in FLAGS.items() if flags.get(flag) is True)
        notes = ("IP restricted",) if flags.get("ipRestrict") else ()
        return KeyCheck(
            "binance", text(account, "uid"), rights, flags.get("enableReading") is True, "", notes
        )

    async def incoming(self, start: datetime, end: datetime) -> list[ExchangeRecord]:
        found: dict[str, ExchangeRecord] = {}
        for low, high in windows(start, end):
            if "deposit" in self.sources:
                found.update((r.record_id, r) for r in await self._deposits(low, high))
            if "pay" in self.sources:
                found.update((r.record_id, r) for r in await self._pay(to_ms(low), to_ms(high)))
        return list(found.values())

    async def _deposits(self, start: datetime, end: datetime) -> list[ExchangeRecord]:
        records: list[ExchangeRecord] = []
        offset = 0
        window = {"startTime": str(to_ms(start)), "endTime": str(to_ms(end)), "limit": str(DEPOSIT_PAGE)}
        while True:
            rows = self._rows(await self.get(DEPOSITS, {**window, "offset": str(offset)}), DEPOSITS)
            records += [self.deposit(row) for row in rows]
            if len(rows) < DEPOSIT_PAGE:
                return records
            offset += len(rows)  # newest first: a new arrival repeats a row, never skips one

    async def _pay(self, low: int, high: int) -> list[ExchangeRecord]:
        body = await self.get(PAY, {"startTime": str(low), "endTime": str(high), "limit": str(PAY_PAGE)})
        if not isinstance(body, dict) or str(body.get("code")) != "000000":
            raise ExchangeError(
                f"{PAY}: code {body.get('code') if isinstance(body, dict) else '?'}", endpoint=PAY
            )
        rows = self._rows(body.get("data"), PAY)
        if len(rows) >= PAY_PAGE:  # maybe more: no offset here, so split the window
            if high <= low:
                raise ExchangeError(f"{PAY}: over {PAY_PAGE} transfers in one millisecond", endpoint=PAY)
            middle = (low + high) // 2
            return await self._pay(low, middle) + await self._pay(middle + 1, high)
        return [r for r in (self.pay(row) for row in rows) if r is not None]

    @staticmethod
    def _rows(data: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ExchangeMalformed(f"{path}: not a list of records", endpoint=path)
        return data

    async def find(self, hash: str, p_addr: str, start: datetime, end: datetime) -> list[ExchangeRecord]:
        values = list(dict.fromkeys(v.strip() for v in (hash, p_addr) if v and v.strip()))
        found: dict[str, ExchangeRecord] = {}
        if "deposit" in self.sources:
            tx_ids = values + [f"Internal transfer {v}" for v in values if v.isdigit()]
            for tx_id in tx_ids:
                for row in self._rows(await self.get(DEPOSITS, {"txId": tx_id}), DEPOSITS):
                    record = self.deposit(row)
                    found[record.record_id] = record
        if "pay" in self.sources:
            wanted = {v.removeprefix("pay:") for v in values}
            for low, high in windows(start, end):
                for record in await self._pay(to_ms(low), to_ms(high)):
                    if record.refs.get("transactionId") in wanted:
                        found[record.record_id] = record
        return list(found.values())

    @staticmethod
    def deposit(row: dict[str, Any]) -> ExchangeRecord:
        if not text(row, "id"):
            raise ExchangeMalformed(f"{DEPOSITS}: a row without id", endpoint=DEPOSITS)
        refs = {k: text(row, k) for k in ("id", "txId", "network", "address", "addressTag") if text(row, k)}
        return ExchangeRecord(
            exchange="binance",
            record_id=f"dep:{text(row, 'id')}",
            source="deposit",
            currency=text(row, "coin").upper(),
            amount_text=text(row, "amount"),
            amount_units=amount_units(row.get("amount")),
            final=text(row, "status") == FINAL_STATUS,
            state=text(row, "status"),
            time=ms_time(row.get("insertTime"), "insertTime", DEPOSITS),
            internal=text(row, "transferType") == "1",
            sender=text(row, "sourceAddress"),
            refs=refs,
        )

    @staticmethod
    def pay(row: dict[str, Any]) -> ExchangeRecord | None:
        """A Pay row as an incoming record; None for money going out."""
        amount = text(row, "amount")
        if not text(row, "transactionId"):
            raise ExchangeMalformed(f"{PAY}: a row without transactionId", endpoint=PAY)
        if amount.startswith("-"):
            return None
        info = row.get("payerInfo")
        payer: dict[str, Any] = info if isinstance(info, dict) else {}
        order_type = text(row, "orderType")
        return ExchangeRecord(
            exchange="binance",
            record_id=f"pay:{text(row, 'transactionId')}",
            source="pay",
            currency=text(row, "currency").upper(),
            amount_text=amount,
            amount_units=amount_units(amount),
            # Listed Pay transfers are completed; a *_HOLDING one waits for the receiver.
            final=bool(order_type) and not order_type.endswith("_HOLDING"),
            state=order_type,
            time=ms_time(row.get("transactionTime"), "transactionTime", PAY),
            internal=True,
            sender=text(payer, "binanceId") or text(payer, "name"),
            refs={"transactionId": text(row, "transactionId"), "orderType": order_type},
        )
