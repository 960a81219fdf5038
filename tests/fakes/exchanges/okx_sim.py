"""An OKX v5 API simulator: public time, account config and deposit history.

Every private request is checked like OKX does: the four OK-ACCESS-*
headers (50103 / 50104 / 50106 / 50107 when missing), the key (50111), the
passphrase (50105), the timestamp format (50112) and age (50102, more than
30 s from the exchange's clock), and the Base64 HMAC-SHA256 signature over
timestamp + method + path-with-query + body (50113). Deposit history
filters and pages as documented (`before` newer than, `after` older than,
newest first, `limit` up to 100); 6 requests / s, then HTTP 429 code 50011.

    with OkxSim() as okx:
        key = okx.add_key(perm="read_only")
        okx.add_deposit(amt="12.000001", from_="payer@example.com")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from tests.fakes.exchanges.base import ExchangeSim, json_response, split
from tests.fakes.fiat_http import SimRequest, SimResponse

DEPOSITS = "/api/v5/asset/deposit-history"
CONFIG = "/api/v5/account/config"
TIME = "/api/v5/public/time"
MAX_SKEW_MS = 30_000


@dataclass
class OkxKey:
    api_key: str
    secret: str
    passphrase: str
    perm: str = "read_only"
    uid: str = "44705892343619584"
    label: str = "usdtpay"
    ip: str = ""


def okx_error(status: int, code: str, msg: str) -> SimResponse:
    return json_response(status, {"code": code, "msg": msg, "data": []})


class OkxSim(ExchangeSim):
    default_limits: ClassVar[dict[str, tuple[int, float]]] = {
        DEPOSITS: (6, 1.0),
        CONFIG: (5, 2.0),
        TIME: (10, 2.0),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys: dict[str, OkxKey] = {}
        self.deposits: list[dict[str, Any]] = []
        self._ids = itertools.count(88_000_001)

    # -- test controls -----------------------------------------------------
    def add_key(self, **overrides: Any) -> OkxKey:
        key = OkxKey(secrets.token_hex(8), secrets.token_hex(16).upper(), "Pass-" + secrets.token_hex(4))
        for name, value in overrides.items():
            setattr(key, name, value)
        self.keys[key.api_key] = key
        return key

    def add_deposit(
        self,
        *,
        amt: str,
        ccy: str = "USDT",
        state: str = "2",
        ts: datetime | int | None = None,
        from_: str = "payer@example.com",
        internal: bool = True,
        **fields: str,
    ) -> dict[str, Any]:
        """A deposit row as OKX shows it; internal transfers have `from`, no `to`."""
        ms = ts if isinstance(ts, int) else int(ts.timestamp() * 1000) if ts else self.now_ms()
        dep_id = str(next(self._ids))
        row = {
            "actualDepBlkConfirm": "0" if internal else "2",
            "amt": amt,
            "areaCodeFrom": "",
            "ccy": ccy,
            "chain": f"{ccy}-TRC20",
            "depId": dep_id,
            "from": from_ if internal else "",
            "fromWdId": str(int(dep_id) + 500_000) if internal else "",
            "state": state,
            "to": "" if internal else "TN4hGjVXMzy9b4N1aGizqsExampleAddr",
            "ts": str(ms),
            "txId": "" if internal else secrets.token_hex(32),
            **fields,
        }
        with self._lock:
            self.deposits.append(row)
        return row

    def set_state(self, dep_id: str, state: str) -> None:
        with self._lock:
            for row in self.deposits:
                if row["depId"] == dep_id:
                    row["state"] = state

    # -- the wire ----------------------------------------------------------
    def route(self, request: SimRequest) -> SimResponse:
        path, _, params = split(request)
        if self.over_limit(path):
            return okx_error(429, "50011", "Too Many Requests")
        if path == TIME:
            return json_response(200, {"code": "0", "msg": "", "data": [{"ts": str(self.now_ms())}]})
        refused, key = self.authenticate(request)
        if refused is not None:
            return refused
        assert key is not None
        if path == CONFIG:
            return json_response(200, {"code": "0", "msg": "", "data": [self.config(key)]})
        if path == DEPOSITS:
            return self.deposit_history(key, params)
        return okx_error(404, "50005", "API endpoint is inactive or unavailable.")

    def authenticate(self, request: SimRequest) -> tuple[SimResponse | None, OkxKey | None]:
        h = request.headers
        for header, code in (
            ("ok-access-key", "50103"),
            ("ok-access-passphrase", "50104"),
            ("ok-access-sign", "50106"),
            ("ok-access-timestamp", "50107"),
        ):
            if not h.get(header):
                self.refuse(f"missing {header}")
                return okx_error(401, code, f'Request header "{header.upper()}" cannot be empty.'), None
        key = self.keys.get(h["ok-access-key"])
        if key is None:
            self.refuse("unknown key")
            return okx_error(401, "50111", "Invalid OK-ACCESS-KEY."), None
        if not hmac.compare_digest(h["ok-access-passphrase"], key.passphrase):
            self.refuse("passphrase")
            return okx_error(401, "50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.'), None
        stamp = h["ok-access-timestamp"]
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            self.refuse("timestamp format")
            return okx_error(401, "50112", "Invalid OK-ACCESS-TIMESTAMP."), None
        sent_ms = int((when - datetime(1970, 1, 1)).total_seconds() * 1000)
        if abs(self.now_ms() - sent_ms) > MAX_SKEW_MS:
            self.refuse("stale timestamp")
            return okx_error(401, "50102", "Timestamp request expired."), None
        prehash = f"{stamp}{request.method.upper()}{request.path}{request.body.decode()}"
        expected = base64.b64encode(hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected.decode(), h["ok-access-sign"]):
            self.refuse("signature")
            return okx_error(401, "50113", "Invalid signature."), None
        return None, key

    @staticmethod
    def config(key: OkxKey) -> dict[str, Any]:
        return {
            "acctLv": "1",
            "autoLoan": False,
            "ip": key.ip,
            "kycLv": "2",
            "label": key.label,
            "level": "Lv1",
            "mainUid": key.uid,
            "perm": key.perm,
            "posMode": "net_mode",
            "roleType": "0",
            "type": "0",
            "uid": key.uid,
        }

    def deposit_history(self, key: OkxKey, params: dict[str, str]) -> SimResponse:
        if "read_only" not in key.perm.split(","):
            return okx_error(200, "50120", "This API key doesn't have permission to use this function")
        limit = params.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return okx_error(400, "51000", "Parameter limit error")
        rows = self.deposits_matching(params)
        rows.sort(key=lambda r: (int(r["ts"]), int(r["depId"])), reverse=True)
        return json_response(200, {"code": "0", "msg": "", "data": [dict(r) for r in rows[: int(limit)]]})

    def deposits_matching(self, params: dict[str, str]) -> list[dict[str, Any]]:
        def keep(row: dict[str, Any]) -> bool:
            for name in ("ccy", "depId", "fromWdId", "txId", "state"):
                if params.get(name) and row[name] != params[name]:
                    return False
            if params.get("type") and (params["type"] == "3") != bool(row["from"]):
                return False
            if params.get("after") and not int(row["ts"]) < int(params["after"]):
                return False
            return not (params.get("before") and not int(row["ts"]) > int(params["before"]))

        with self._lock:
            return [r for r in self.deposits if keep(r)]

    def fault_answer(self, kind: str, path: str) -> SimResponse:
        if kind == "5xx":
            return okx_error(503, "50001", "Service temporarily unavailable. Please try again later.")
        if kind == "malformed":
            return json_response(200, {"code": "0", "msg": "", "data": {"unexpected": True}})
        if kind == "auth":
            return okx_error(401, "50111", "Invalid OK-ACCESS-KEY.")
        if kind in ("ratelimit", "ban"):
            return okx_error(429, "50011", "Too Many Requests")
        raise ValueError(kind)
