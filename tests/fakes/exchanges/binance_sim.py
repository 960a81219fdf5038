"""A Binance API simulator: server time, key restrictions, account (uid),
deposit history and Binance Pay history.

Signed requests are checked like Binance does: X-MBX-APIKEY present and
known (-2014 / -2015, HTTP 401), `timestamp` present (-1102) and inside
`recvWindow` of the exchange's clock (-1021), and `signature` = hex
HMAC-SHA256 of the query string without it (-1022). Weight is counted per
minute in the documented pools; over the limit answers 429 (-1003) with
Retry-After, and a client that keeps asking during that wait is banned
with 418. Deposit history: newest first, offset/limit (≤ 1000), windows
under 90 days, txId filter. Pay history: newest first, limit ≤ 100.

    with BinanceSim() as binance:
        key = binance.add_key()                      # reading only
        key = binance.add_key(enableWithdrawals=True)  # must be refused
        binance.add_deposit(amount="12.00000100")
        binance.add_pay(amount="12.000001")
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.fakes.exchanges.base import ExchangeSim, json_response, split
from tests.fakes.fiat_http import SimRequest, SimResponse

DEPOSITS = "/sapi/v1/capital/deposit/hisrec"
PAY = "/sapi/v1/pay/transactions"
RESTRICTIONS = "/sapi/v1/account/apiRestrictions"
ACCOUNT = "/api/v3/account"
TIME = "/api/v3/time"
DAY_MS = 86_400_000
WEIGHTS = {
    DEPOSITS: ("ip", 1),
    RESTRICTIONS: ("ip", 1),
    PAY: ("uid", 3000),
    ACCOUNT: ("api", 20),
    TIME: ("api", 1),
}
POOL_LIMITS = {"ip": 12_000, "uid": 180_000, "api": 6_000}  # weight per minute
READ_ONLY = {
    "ipRestrict": False,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": True,
    "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": False,
}


@dataclass
class BinanceKey:
    api_key: str
    secret: str
    uid: int = 354937868
    flags: dict[str, bool] = field(default_factory=lambda: dict(READ_ONLY))


def binance_error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> SimResponse:
    return json_response(status, {"code": code, "msg": msg}, headers)


def ms_of(when: datetime | int | None, default: int) -> int:
    if when is None:
        return default
    return when if isinstance(when, int) else int(when.timestamp() * 1000)


class BinanceSim(ExchangeSim):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys: dict[str, BinanceKey] = {}
        self.deposits: list[dict[str, Any]] = []
        self.pay: list[dict[str, Any]] = []
        self.pool_limits = dict(POOL_LIMITS)
        self.used: dict[str, list[tuple[float, int]]] = {}
        self.blocked_until = 0.0  # after a 429: asking again before this bans
        self.banned_until = 0.0
        self._ids = itertools.count(769_800_519_366_885_376)

    # -- test controls -----------------------------------------------------
    def add_key(self, **flags: bool) -> BinanceKey:
        key = BinanceKey(secrets.token_hex(32), secrets.token_hex(32))
        key.flags.update(flags)
        self.keys[key.api_key] = key
        return key

    def add_deposit(
        self,
        *,
        amount: str,
        coin: str = "USDT",
        status: int = 1,
        insert: datetime | int | None = None,
        internal: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        ms = ms_of(insert, self.now_ms())
        number = next(self._ids)
        row = {
            "id": str(number),
            "amount": amount,
            "coin": coin,
            "network": "TRX" if not internal else "BSC",
            "status": status,
            "address": "TN4hGjVXMzy9b4N1aGizqsExampleAddr",
            "addressTag": "",
            "txId": f"Internal transfer {number % 10**11}" if internal else secrets.token_hex(32),
            "insertTime": ms,
            "completeTime": ms,
            "transferType": 1 if internal else 0,
            "confirmTimes": "1/1",
            "unlockConfirm": 0,
            "walletType": 0,
            **fields,
        }
        with self._lock:
            self.deposits.append(row)
        return row

    def add_pay(
        self,
        *,
        amount: str,
        currency: str = "USDT",
        order_type: str = "C2C",
        when: datetime | int | None = None,
        payer_id: str = "39876543",
        **fields: Any,
    ) -> dict[str, Any]:
        ms = ms_of(when, self.now_ms())
        row = {
            "orderType": order_type,
            "transactionId": f"M_P_{next(self._ids)}",
            "transactionTime": ms,
            "amount": amount,
            "currency": currency,
            "walletType": 1,
            "walletTypes": [1],
            "fundsDetail": [{"currency": currency, "amount": amount.lstrip("-")}],
            "payerInfo": {"name": "Payer", "type": "USER", "binanceId": payer_id, "accountId": payer_id},
            "receiverInfo": {
                "name": "Shop",
                "type": "USER",
                "binanceId": "354937868",
                "accountId": "354937868",
            },
            **fields,
        }
        with self._lock:
            self.pay.append(row)
        return row

    def set_status(self, deposit_id: str, status: int) -> None:
        with self._lock:
            for row in self.deposits:
                if row["id"] == deposit_id:
                    row["status"] = status

    # -- the wire ----------------------------------------------------------
    def route(self, request: SimRequest) -> SimResponse:
        path, raw, params = split(request)
        limited = self.spend(path)
        if limited is not None:
            return limited
        if path == TIME:
            return json_response(200, {"serverTime": self.now_ms()})
        refused, key = self.authenticate(request, raw, params)
        if refused is not None:
            return refused
        assert key is not None
        if path == RESTRICTIONS:
            return json_response(200, {"createTime": 1623840271000, **key.flags})
        if path == ACCOUNT:
            return json_response(200, self.account(key))
        if not key.flags.get("enableReading"):
            return binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if path == DEPOSITS:
            return self.deposit_history(params)
        if path == PAY:
            return self.pay_history(params)
        return binance_error(404, -1000, "Unknown path")

    def spend(self, path: str) -> SimResponse | None:
        """Weight accounting; 429 over the limit, 418 for asking during the wait."""
        now = time.monotonic()
        pool, weight = WEIGHTS.get(path, ("ip", 1))
        with self._lock:
            if now < self.banned_until:
                self.refuse("banned")
                wait = str(int(self.banned_until - now) + 1)
                return binance_error(418, -1003, "Way too many requests; IP banned.", {"Retry-After": wait})
            if now < self.blocked_until:
                self.refuse("asked during Retry-After")
                self.banned_until = now + 120
                return binance_error(418, -1003, "Way too many requests; IP banned.", {"Retry-After": "120"})
            spent = [(t, w) for t, w in self.used.get(pool, []) if t > now - 60]
            if sum(w for _, w in spent) + weight > self.pool_limits[pool]:
                self.refuse("rate_limit")
                self.blocked_until = now + 2
                return binance_error(
                    429,
                    -1003,
                    "Too many requests; current request weight limit exceeded.",
                    {"Retry-After": "2"},
                )
            self.used[pool] = [*spent, (now, weight)]
        return None

    def authenticate(
        self, request: SimRequest, raw: str, params: dict[str, str]
    ) -> tuple[SimResponse | None, BinanceKey | None]:
        api_key = request.headers.get("x-mbx-apikey", "")
        if not api_key:
            self.refuse("missing key")
            return binance_error(401, -2014, "API-key format invalid."), None
        key = self.keys.get(api_key)
        if key is None:
            self.refuse("unknown key")
            return binance_error(401, -2015, "Invalid API-key, IP, or permissions for action."), None
        if not params.get("timestamp", "").isdigit():
            self.refuse("missing timestamp")
            return binance_error(400, -1102, "Mandatory parameter 'timestamp' was not sent."), None
        window = int(params.get("recvWindow") or 5000)
        stamp, now = int(params["timestamp"]), self.now_ms()
        if stamp < now - window or stamp > now + 1000:
            self.refuse("stale timestamp")
            return binance_error(400, -1021, "Timestamp for this request is outside of the recvWindow."), None
        signed = "&".join(p for p in raw.split("&") if not p.startswith("signature="))
        expected = hmac.new(key.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            self.refuse("signature")
            return binance_error(400, -1022, "Signature for this request is not valid."), None
        return None, key

    @staticmethod
    def account(key: BinanceKey) -> dict[str, Any]:
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": 0,
            "accountType": "SPOT",
            "balances": [],
            "permissions": ["SPOT"],
            "uid": key.uid,
        }

    def window(self, params: dict[str, str]) -> tuple[int, int] | SimResponse:
        now = self.now_ms()
        start = int(params.get("startTime") or now - 90 * DAY_MS)
        end = int(params.get("endTime") or now)
        if end - start >= 90 * DAY_MS or end < start:
            return binance_error(400, -1127, "More than 90 days between startTime and endTime.")
        return start, end

    def deposit_history(self, params: dict[str, str]) -> SimResponse:
        span = self.window(params) if "txId" not in params else (0, 2**62)
        if isinstance(span, SimResponse):
            return span
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 1000)
        if not 1 <= limit <= 1000:
            return binance_error(400, -1100, "Illegal characters found in parameter 'limit'.")
        with self._lock:
            rows = [
                dict(r)
                for r in self.deposits
                if span[0] <= r["insertTime"] <= span[1]
                and (not params.get("txId") or r["txId"] == params["txId"])
                and (not params.get("coin") or r["coin"] == params["coin"])
            ]
        rows.sort(key=lambda r: (r["insertTime"], r["id"]), reverse=True)
        return json_response(200, rows[offset : offset + limit])

    def pay_history(self, params: dict[str, str]) -> SimResponse:
        span = self.window(params)
        if isinstance(span, SimResponse):
            return span
        limit = int(params.get("limit") or 100)
        if not 1 <= limit <= 100:
            return binance_error(400, -1100, "Illegal characters found in parameter 'limit'.")
        with self._lock:
            rows = [dict(r) for r in self.pay if span[0] <= r["transactionTime"] <= span[1]]
        rows.sort(key=lambda r: r["transactionTime"], reverse=True)
        return json_response(
            200, {"code": "000000", "message": "success", "data": rows[:limit], "success": True}
        )

    def fault_answer(self, kind: str, path: str) -> SimResponse:
        if kind == "5xx":
            return SimResponse(503, b"Service Unavailable", {"Content-Type": "text/plain"})
        if kind == "malformed":
            return json_response(200, {"unexpected": True} if path != PAY else {"code": "000000", "data": {}})
        if kind == "auth":
            return binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if kind == "ratelimit":
            return binance_error(429, -1003, "Too many requests.", {"Retry-After": "1"})
        if kind == "ban":
            return binance_error(418, -1003, "Way too many requests; IP banned.", {"Retry-After": "3"})
        raise ValueError(kind)
