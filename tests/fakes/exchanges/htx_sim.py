"""An HTX (Huobi) API simulator: timestamp, user uid, API key query and
deposit records.

Signed requests are checked like HTX Signature V2: AccessKeyId,
SignatureMethod=HmacSHA256, SignatureVersion=2, Timestamp within 5 minutes
of the exchange's clock, and Signature = Base64(HMAC-SHA256(secret,
"GET\\n<host>\\n<path>\\n<sorted, upper-hex URL-encoded query>")). Every
refusal is HTX's `api-signature-not-valid` with its own message. Deposit
records come newest first with `direct=next` (oldest first with `prev`),
paged from the record id `from` (inclusive), `size` up to 500; amounts are
bare JSON numbers as HTX sends them. 20 requests / 2 s per endpoint, then
HTTP 429 with `base-request-exceed-frequency-limit` (an assumption: the
documents found do not show HTX's exact answer).

    with HtxSim() as htx:
        key = htx.add_key(permission="readOnly")
        htx.add_deposit(amount="12.000001", tx_hash="ab12...")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from tests.fakes.exchanges.base import ExchangeSim, split
from tests.fakes.fiat_http import SimRequest, SimResponse

DEPOSITS = "/v1/query/deposit-withdraw"
UID = "/v2/user/uid"
API_KEY = "/v2/user/api-key"
TIME = "/v1/common/timestamp"
MAX_SKEW_MS = 5 * 60_000
NUMBER_FIELDS = re.compile(r'"(amount|fee)": "(\d+(?:\.\d+)?)"')


@dataclass
class HtxKey:
    access_key: str
    secret: str
    permission: str = "readOnly"
    uid: int = 63628520
    status: str = "normal"
    note: str = "usdtpay"
    ip: str = ""


def htx_json(status: int, payload: Any) -> SimResponse:
    # Amounts and fees go out as bare JSON numbers, exactly as stored.
    body = NUMBER_FIELDS.sub(r'"\1": \2', json.dumps(payload))
    return SimResponse(status, body.encode(), {"Content-Type": "application/json"})


def v1_error(code: str, msg: str, status: int = 200) -> SimResponse:
    return htx_json(status, {"status": "error", "err-code": code, "err-msg": msg, "data": None})


def encode(value: str) -> str:
    return quote(value, safe="-_.~")


class HtxSim(ExchangeSim):
    default_limits: ClassVar[dict[str, tuple[int, float]]] = {
        DEPOSITS: (20, 2.0),
        UID: (20, 2.0),
        API_KEY: (20, 2.0),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys: dict[str, HtxKey] = {}
        self.deposits: list[dict[str, Any]] = []
        self._ids = itertools.count(1171)

    # -- test controls -----------------------------------------------------
    def add_key(self, **overrides: Any) -> HtxKey:
        key = HtxKey(
            f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}", secrets.token_hex(16)
        )
        for name, value in overrides.items():
            setattr(key, name, value)
        self.keys[key.access_key] = key
        return key

    def add_deposit(
        self,
        *,
        amount: str,
        currency: str = "usdt",
        state: str = "safe",
        created: datetime | int | None = None,
        tx_hash: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        ms = (
            created
            if isinstance(created, int)
            else int(created.timestamp() * 1000)
            if created
            else self.now_ms()
        )
        row = {
            "id": next(self._ids),
            "type": "deposit",
            "currency": currency,
            "tx-hash": tx_hash if tx_hash is not None else secrets.token_hex(32),
            "chain": "trc20usdt",
            "amount": amount,
            "address": "TN4hGjVXMzy9b4N1aGizqsExampleAddr",
            "address-tag": "",
            "fee": "0",
            "state": state,
            "created-at": ms,
            "updated-at": ms,
            **fields,
        }
        with self._lock:
            self.deposits.append(row)
        return row

    def set_state(self, record_id: int, state: str) -> None:
        with self._lock:
            for row in self.deposits:
                if row["id"] == record_id:
                    row["state"] = state
                    row["updated-at"] = self.now_ms()

    # -- the wire ----------------------------------------------------------
    def route(self, request: SimRequest) -> SimResponse:
        path, _, params = split(request)
        if self.over_limit(path):
            return v1_error("base-request-exceed-frequency-limit", "Exceeded the access frequency limit", 429)
        if path == TIME:
            return htx_json(200, {"status": "ok", "data": self.now_ms()})
        refused, key = self.authenticate(request, path, params)
        if refused is not None:
            return refused
        assert key is not None
        if path == UID:
            return htx_json(200, {"code": 200, "data": key.uid})
        if path == API_KEY:
            return htx_json(
                200, {"code": 200, "message": "success", "data": self.api_keys(key, params), "ok": True}
            )
        if path == DEPOSITS:
            return self.deposit_records(params)
        return v1_error("invalid-parameter", "invalid path", 404)

    def authenticate(
        self, request: SimRequest, path: str, params: dict[str, str]
    ) -> tuple[SimResponse | None, HtxKey | None]:
        def refuse(reason: str, message: str) -> tuple[SimResponse, None]:
            self.refuse(reason)
            return v1_error("api-signature-not-valid", f"Signature not valid: {message}"), None

        for name in ("AccessKeyId", "SignatureMethod", "SignatureVersion", "Timestamp", "Signature"):
            if not params.get(name):
                return refuse(f"missing {name}", f"{name} is required")
        if params["SignatureMethod"] != "HmacSHA256" or params["SignatureVersion"] != "2":
            return refuse("method", "Unsupported signature method or version")
        key = self.keys.get(params["AccessKeyId"])
        if key is None:
            return refuse("unknown key", "Incorrect Access key [Access key错误]")
        try:
            sent = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return refuse("timestamp format", "Invalid timestamp format")
        if abs(self.now_ms() - int(sent.timestamp() * 1000)) > MAX_SKEW_MS:
            return refuse("stale timestamp", "Timestamp expired [时间戳过期]")
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        query = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(unsigned.items()))
        host = request.headers.get("host", "").lower()
        text = f"{request.method.upper()}\n{host}\n{path}\n{query}"
        expected = base64.b64encode(
            hmac.new(key.secret.encode(), text.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, params["Signature"]):
            return refuse("signature", "Verification failure [校验失败]")
        return None, key

    def api_keys(self, key: HtxKey, params: dict[str, str]) -> list[dict[str, Any]]:
        listed = [k for k in self.keys.values() if k.uid == key.uid]
        if params.get("accessKey"):
            listed = [k for k in listed if k.access_key == params["accessKey"]]
        return [
            {
                "accessKey": k.access_key,
                "status": k.status,
                "note": k.note,
                "permission": k.permission,
                "ipAddresses": k.ip,
                "validDays": -1,
                "createTime": 1615192704000,
                "updateTime": 1623030338000,
            }
            for k in listed
        ]

    def deposit_records(self, params: dict[str, str]) -> SimResponse:
        if params.get("type") not in ("deposit", "withdraw"):
            return v1_error("invalid-parameter", "type is required: deposit or withdraw")
        size = params.get("size", "100")
        direct = params.get("direct", "prev")
        if not size.isdigit() or not 1 <= int(size) <= 500 or direct not in ("prev", "next"):
            return v1_error("invalid-parameter", "invalid size or direct")
        with self._lock:
            rows = [dict(r) for r in self.deposits if r["type"] == params["type"]]
        if params.get("currency"):
            rows = [r for r in rows if r["currency"] == params["currency"]]
        start = params.get("from")
        if direct == "next":
            rows.sort(key=lambda r: r["id"], reverse=True)
            rows = [r for r in rows if start is None or r["id"] <= int(start)]
        else:
            rows.sort(key=lambda r: r["id"])
            rows = [r for r in rows if start is None or r["id"] >= int(start)]
        return htx_json(200, {"status": "ok", "data": rows[: int(size)]})

    def fault_answer(self, kind: str, path: str) -> SimResponse:
        if kind == "5xx":
            return SimResponse(502, b"<html>502 Bad Gateway</html>", {"Content-Type": "text/html"})
        if kind == "malformed":
            return htx_json(200, {"status": "ok", "data": {"unexpected": True}})
        if kind == "auth":
            return v1_error(
                "api-signature-not-valid", "Signature not valid: Incorrect Access key [Access key错误]"
            )
        if kind in ("ratelimit", "ban"):
            return v1_error("base-request-exceed-frequency-limit", "Exceeded the access frequency limit", 429)
        raise ValueError(kind)
