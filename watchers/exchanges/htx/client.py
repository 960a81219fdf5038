"""HTX (Huobi): deposit records of a receiving account, read with a read-only key.

Signing (HTX "Signature V2"): the query carries AccessKeyId,
SignatureMethod=HmacSHA256, SignatureVersion=2 and Timestamp (UTC
YYYY-MM-DDThh:mm:ss, valid 5 minutes); parameters are URL-encoded with
upper-case hex and sorted by ASCII; the text
"GET\\n<host>\\n<path>\\n<sorted query>" is signed with HMAC-SHA256 and the
Base64 result is URL-encoded into `Signature`.

Deposits: GET /v1/query/deposit-withdraw?type=deposit, paged by record id
(`from`, `size` up to 500, `direct=next` newest first). There is no tx-hash
filter, so a supplement scans the order's window.
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
from urllib.parse import quote, urlsplit

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

log = logging.getLogger("usdtpay.watchers.exchanges.htx")

DEPOSITS = "/v1/query/deposit-withdraw"
UID = "/v2/user/uid"
API_KEY = "/v2/user/api-key"
TIME = "/v1/common/timestamp"
PAGE = 500
BUDGETS = {
    DEPOSITS: Budget(20, 2.0, "20 requests / 2 s per UID"),
    UID: Budget(20, 2.0, "20 requests / 2 s per UID"),
    API_KEY: Budget(20, 2.0, "20 requests / 2 s per UID"),
    TIME: Budget(10, 1.0, "public; no documented figure, 10 / s assumed"),
}
# v1 error codes (`err-code`); the signature one may also mean a stale timestamp.
AUTH_ERRORS = {"api-signature-not-valid", "login-required", "invalid-access-key", "api-key-invalid"}
AUTH_ERRORS |= {"forbidden-access", "api-signature-check-failed", "base-user-request-exceed-limit"}
RATE_ERRORS = {"base-request-exceed-frequency-limit", "api-request-too-frequent", "too-many-requests"}
V2_AUTH = {1002, 1003, 2002}
FINAL_STATE = "safe"
RIGHTS = {"readOnly": READ, "trade": TRADE, "withdraw": WITHDRAW}


def encode(value: str) -> str:
    return quote(value, safe="-_.~")  # upper-case hex; space as %20


def canonical(params: dict[str, str]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))


def sign(secret: str, method: str, host: str, path: str, query: str) -> str:
    text_to_sign = f"{method.upper()}\n{host.lower()}\n{path}\n{query}"
    return base64.b64encode(
        hmac.new(secret.encode(), text_to_sign.encode(), hashlib.sha256).digest()
    ).decode()


def htx_timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def bare_hash(value: str) -> str:
    value = value.strip().lower()
    return value[2:] if value.startswith("0x") else value


class HtxClient:
    exchange = "htx"

    def __init__(
        self,
        *,
        access_key: str,
        secret: str,
        base_url: str = "https://api.huobi.pro",
        timeout_s: float = 10.0,
        share: float = 0.5,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = ExchangeHttp(base_url, timeout_s=timeout_s, wall_clock=wall_clock)
        self.host = urlsplit(self.http.base_url).netloc
        self._key, self._secret = access_key, secret
        self.buckets = shared_buckets(f"htx:{key_digest(access_key)}", BUDGETS, share)
        self._synced = False

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- the request path ------------------------------------------------
    async def sync_clock(self) -> None:
        await self.buckets[TIME].take()
        sent = self.http.local_ms()
        answer = await self.http.send("GET", TIME)
        received = self.http.local_ms()
        payload = answer.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), int):
            raise ExchangeMalformed(f"{TIME}: no data timestamp", endpoint=TIME)
        self.http.learn_offset(payload["data"], sent, received)
        self._synced = True
        log.info("htx clock offset %d ms", self.http.offset_ms)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """A signed GET. HTX words a stale timestamp as a signature error, so
        a signature refusal re-syncs the clock once before it counts."""
        try:
            return await self._get_once(path, params or {})
        except ClockSkew:
            await self.sync_clock()
            try:
                return await self._get_once(path, params or {})
            except ClockSkew as exc:
                raise ExchangeAuthError(str(exc), retry_after=300.0, endpoint=path, code=exc.code) from exc

    async def _get_once(self, path: str, params: dict[str, str]) -> Any:
        await self.buckets[path].take()
        signed = {
            **params,
            "AccessKeyId": self._key,
            "SignatureMethod": "HmacSHA256",
            "SignatureVersion": "2",
            "Timestamp": htx_timestamp(self.http.now_ms()),
        }
        query = canonical(signed)
        signature = sign(self._secret, "GET", self.host, path, query)
        answer = await self.http.send("GET", f"{path}?{query}&Signature={encode(signature)}")
        body = answer.payload if isinstance(answer.payload, dict) else {}
        error = str(body.get("err-code") or "")
        v2_code = body.get("code")
        said = str(body.get("err-msg") or body.get("message") or "")[:120]
        message = f"{path}: HTX {error or v2_code or answer.status} {said}"
        if answer.status == 429 or error in RATE_ERRORS or v2_code == 429:
            wait = retry_after(answer.headers, 2.0)
            self.buckets[path].pause(wait)
            raise ExchangeRateLimited(message, retry_after=wait, endpoint=path, code=error or "429")
        if error == "api-signature-not-valid" or v2_code == 1003:
            raise ClockSkew(message, retry_after=1.0, endpoint=path, code=error or str(v2_code))
        if error in AUTH_ERRORS or v2_code in V2_AUTH or answer.status in (401, 403):
            raise ExchangeAuthError(message, retry_after=300.0, endpoint=path, code=error or str(v2_code))
        ok = body.get("status") == "ok" or v2_code == 200
        if answer.status != 200 or not ok or "data" not in body:
            raise ExchangeError(message, retry_after=5.0, endpoint=path, code=error or str(v2_code or ""))
        return body["data"]

    # -- what the engine asks ----------------------------------------------
    async def check_key(self) -> KeyCheck:
        uid = await self.get(UID)
        if isinstance(uid, bool) or not isinstance(uid, int | str) or not str(uid).isdigit():
            raise ExchangeMalformed(f"{UID}: no uid", endpoint=UID)
        keys = await self.get(API_KEY, {"uid": str(uid), "accessKey": self._key})
        mine = (
            [k for k in keys if isinstance(k, dict) and k.get("accessKey") == self._key]
            if isinstance(keys, list)
            else []
        )
        if not mine:
            raise ExchangeMalformed(f"{API_KEY}: this access key is not listed", endpoint=API_KEY)
        key = mine[0]
        perms = {p.strip() for p in text(key, "permission").split(",") if p.strip()}
        rights = frozenset(RIGHTS.get(p, p) for p in perms)
        can_read = READ in rights and text(key, "status") == "normal"
        if can_read:
            try:
                await self.get(DEPOSITS, {"type": "deposit", "size": "1", "direct": "next"})
            except ExchangeAuthError:
                can_read = False
        notes = tuple(
            note
            for note in (
                f"bound to IP {text(key, 'ipAddresses')}" if text(key, "ipAddresses") else "",
                f"key status {text(key, 'status')}" if text(key, "status") != "normal" else "",
                f"expires in {text(key, 'validDays')} days"
                if text(key, "validDays") not in ("", "-1")
                else "",
            )
            if note
        )
        return KeyCheck("htx", str(uid), rights, can_read, text(key, "note"), notes)

    async def incoming(self, start: datetime, end: datetime) -> list[ExchangeRecord]:
        """Walk the records newest first until the page reaches back past `start`."""
        low, high = to_ms(start), to_ms(end)
        found: dict[str, ExchangeRecord] = {}
        params = {"type": "deposit", "size": str(PAGE), "direct": "next"}
        smallest: int | None = None
        while True:
            page = {**params, **({"from": str(smallest)} if smallest is not None else {})}
            data = await self.get(DEPOSITS, page)
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise ExchangeMalformed(f"{DEPOSITS}: not a list", endpoint=DEPOSITS)
            records = [self.record(row) for row in data]
            found.update((r.record_id, r) for r in records if low <= to_ms(r.time) <= high)
            ids = [int(r.record_id) for r in records]
            if len(data) < PAGE or not ids or min(to_ms(r.time) for r in records) < low:
                return list(found.values())
            if smallest is not None and min(ids) >= smallest:
                raise ExchangeError(
                    f"{DEPOSITS}: paging made no progress at id {smallest}", endpoint=DEPOSITS
                )
            smallest = min(ids)  # `from` may be inclusive: the ids de-duplicate

    async def find(self, hash: str, p_addr: str, start: datetime, end: datetime) -> list[ExchangeRecord]:
        wanted = {bare_hash(v) for v in (hash, p_addr) if v and v.strip()}
        return [
            r
            for r in await self.incoming(start, end)
            if bare_hash(r.refs.get("tx-hash", "")) in wanted or r.record_id in wanted
        ]

    @staticmethod
    def record(row: dict[str, Any]) -> ExchangeRecord:
        record_id = text(row, "id")
        if not record_id.isdigit():
            raise ExchangeMalformed(f"{DEPOSITS}: a row without a numeric id", endpoint=DEPOSITS)
        refs = {k: text(row, k) for k in ("tx-hash", "chain", "address", "address-tag") if text(row, k)}
        return ExchangeRecord(
            exchange="htx",
            record_id=record_id,
            source="deposit",
            currency=text(row, "currency").upper(),
            amount_text=text(row, "amount"),
            amount_units=amount_units(row.get("amount")),
            final=text(row, "state") == FINAL_STATE,
            state=text(row, "state"),
            time=ms_time(row.get("created-at"), "created-at", DEPOSITS),
            internal=None,  # HTX does not say whether a deposit came on chain or internally
            sender="",
            refs=refs,
        )
