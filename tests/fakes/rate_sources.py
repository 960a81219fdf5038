"""A loopback HTTP server that plays OKX C2C, Binance P2P and CoinGecko.

Each path answers with the real service's response shape (field names,
string vs number prices, error envelopes), checks the request the way the
real service would (parameters, method, JSON body), and can be told to
misbehave per source: HTTP errors, garbage, HTML pages, empty books, error
envelopes, bad prices, slow answers.

    with RateSourcesFake() as fake:
        fake.set("okx", prices=["7.25", "7.26"])
        fake.fail("binance", "html")
        settings = Settings(rate=RateSettings(**fake.rate_settings()))
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OKX_PATH = "/v3/c2c/tradingOrders/books"
BINANCE_PATH = "/bapi/c2c/v2/friendly/c2c/adv/search"
COINGECKO_PATH = "/api/v3/simple/price"

# What a source can be told to do instead of answering normally.
FAULTS = (
    "http_500",
    "http_429",
    "garbage",
    "html",
    "empty",
    "error_envelope",
    "bad_price",
    "truncated",
    "slow",
)

HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    "<body><h1>Checking your browser before accessing the site.</h1></body></html>"
)


@dataclass
class SourceState:
    prices: list[str]
    fault: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


def okx_ad(price: str, n: int) -> dict[str, Any]:
    return {
        "alreadyTraded": False,
        "availableAmount": "25831.47",
        "baseCurrency": "usdt",
        "black": False,
        "cancelledOrderQuantity": 3,
        "completedOrderQuantity": 1890 + n,
        "completedRate": "0.9912",
        "creatorType": "certified",
        "id": f"24051{n:08d}",
        "merchantId": f"m{n:06d}",
        "nickName": f"merchant-{n}",
        "paymentMethods": ["bank", "aliPay", "wxPay"],
        "price": price,
        "publicUserId": f"u{n:010d}",
        "quoteCurrency": "cny",
        "quoteMaxAmountPerOrder": "200000.00",
        "quoteMinAmountPerOrder": "500.00",
        "quoteScale": 2,
        "quoteSymbol": "¥",
        "side": "sell",
        "userType": "all",
    }


def binance_ad(price: str, n: int) -> dict[str, Any]:
    return {
        "adv": {
            "advNo": f"1153{n:014d}",
            "classify": "mass",
            "tradeType": "SELL",
            "asset": "USDT",
            "fiatUnit": "CNY",
            "advStatus": None,
            "priceType": None,
            "priceFloatingRatio": None,
            "price": price,
            "initAmount": "30000.00",
            "surplusAmount": "12045.33",
            "maxSingleTransAmount": "100000.00",
            "minSingleTransAmount": "1000.00",
            "payTimeLimit": 15,
            "tradeMethods": [{"payType": "ALIPAY", "tradeMethodName": "Alipay"}],
        },
        "advertiser": {"userNo": f"s{n:08d}", "nickName": f"trader{n}", "monthOrderCount": 812},
    }


class RateSourcesFake:
    """The three market sources on one loopback port."""

    def __init__(self, *, slow_seconds: float = 1.5) -> None:
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.sources: dict[str, SourceState] = {}
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def reset(self) -> None:
        """Default books (medians: okx 7.26, binance 7.30, coingecko 7.21), no faults."""
        with self.lock:
            self.sources = {
                "okx": SourceState(["7.25", "7.26", "7.26", "7.27", "7.30"]),
                "binance": SourceState(["7.30", "7.31", "7.29"]),
                "coingecko": SourceState(["7.21"]),
            }

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def rate_settings(self) -> dict[str, str]:
        """The URL settings (RateSettings fields) that point at this fake."""
        return {
            "okx_url": self.base_url + OKX_PATH,
            "binance_url": self.base_url + BINANCE_PATH,
            "coingecko_url": self.base_url + COINGECKO_PATH,
        }

    def set(self, source: str, *, prices: list[str]) -> None:
        """Normal answers with these ads (for coingecko: prices[0], a JSON number)."""
        with self.lock:
            self.sources[source].prices = list(prices)
            self.sources[source].fault = None

    def fail(self, source: str, fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self.lock:
            self.sources[source].fault = fault

    def requests(self, source: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.sources[source].requests)

    def __enter__(self) -> RateSourcesFake:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


Reply = tuple[int, str, str]  # status, content type, body


def _json(status: int, payload: Any) -> Reply:
    return status, "application/json;charset=utf-8", json.dumps(payload, ensure_ascii=False)


def _fault_reply(source: str, fault: str) -> Reply | None:
    """The generic misbehaviours; source-specific ones return None here."""
    if fault == "http_500":
        return 500, "text/plain", "Internal Server Error"
    if fault == "http_429":
        if source == "coingecko":
            message = "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing"
            return _json(429, {"status": {"error_code": 429, "error_message": message}})
        return 429, "text/plain", "Too Many Requests"
    if fault == "garbage":
        return 200, "application/json", "\x00\x17not json at all }{"
    if fault == "html":
        return 200, "text/html; charset=UTF-8", HTML_PAGE
    if fault == "truncated":
        return 200, "application/json", '{"code":0,"data":{"sell":[{"price":"7.2'
    return None


def _okx(query: dict[str, list[str]], state: SourceState) -> Reply:
    wanted = {"quoteCurrency": "CNY", "baseCurrency": "USDT", "side": "sell"}
    wrong = [k for k, v in wanted.items() if [x.upper() for x in query.get(k, [])] != [v.upper()]]
    if wrong or state.fault == "error_envelope":
        message = f"Parameter {wrong[0]} error" if wrong else "System busy"
        code = 51000 if wrong else 50001
        body = {"code": code, "data": {}, "detailMsg": message, "error_code": str(code), "msg": message}
        return _json(200, body)
    prices = state.prices
    if state.fault == "empty":
        prices = []
    ads = [okx_ad(p, n) for n, p in enumerate(prices)]
    if state.fault == "bad_price" and ads:
        ads[0]["price"] = "7.25e0"
    payload = {"code": 0, "data": {"buy": [], "sell": ads, "total": len(ads)}, "detailMsg": "", "msg": ""}
    return _json(200, payload)


def _binance(body: Any, state: SourceState) -> Reply:
    ok_request = (
        isinstance(body, dict)
        and body.get("asset") == "USDT"
        and body.get("fiat") == "CNY"
        and body.get("tradeType") in ("BUY", "SELL")
    )
    if not ok_request or state.fault == "error_envelope":
        message = "illegal parameter" if not ok_request else "system abnormality"
        error: dict[str, Any] = {
            "code": "000002",
            "message": message,
            "messageDetail": None,
            "data": None,
            "success": False,
        }
        return _json(200, error)
    rows = int(body.get("rows") or 10)
    prices = [] if state.fault == "empty" else state.prices[:rows]
    ads = [binance_ad(p, n) for n, p in enumerate(prices)]
    if state.fault == "bad_price" and ads:
        ads[0]["adv"]["price"] = "-7.30"
    payload: dict[str, Any] = {
        "code": "000000",
        "message": None,
        "messageDetail": None,
        "data": ads,
        "total": len(ads),
        "success": True,
    }
    return _json(200, payload)


def _coingecko(query: dict[str, list[str]], state: SourceState) -> Reply:
    if query.get("ids") != ["tether"] or query.get("vs_currencies") != ["cny"]:
        return _json(200, {})  # CoinGecko answers unknown ids with an empty object
    if state.fault == "empty":
        return _json(200, {"tether": {}})
    if state.fault == "error_envelope":
        return _json(200, {"status": {"error_code": 10002, "error_message": "API Key Missing"}})
    price = "NaN" if state.fault == "bad_price" else state.prices[0]
    # Written by hand so the number's text is exactly what the test chose.
    return 200, "application/json; charset=utf-8", '{"tether":{"cny":' + price + "}}"


ROUTES = {
    OKX_PATH: ("okx", "GET"),
    BINANCE_PATH: ("binance", "POST"),
    COINGECKO_PATH: ("coingecko", "GET"),
}


class _Handler(BaseHTTPRequestHandler):
    fake: RateSourcesFake  # set per server by _handler_for
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = ROUTES.get(url.path)
        if route is None or route[1] != method:
            self._send(404 if route is None else 405, "text/plain", "not here")
            return
        name = route[0]
        query = parse_qs(url.query)
        with self.fake.lock:
            state = self.fake.sources[name]
            state.requests.append({"method": method, "query": query, "body": raw.decode("utf-8", "replace")})
            snapshot = SourceState(list(state.prices), state.fault)
        if snapshot.fault == "slow":
            time.sleep(self.fake.slow_seconds)
            snapshot.fault = None
        reply = _fault_reply(name, snapshot.fault) if snapshot.fault else None
        if reply is None:
            reply = self._answer(name, query, raw, snapshot)
        self._send(*reply)

    def _answer(self, name: str, query: dict[str, list[str]], raw: bytes, state: SourceState) -> Reply:
        if name == "okx":
            return _okx(query, state)
        if name == "coingecko":
            return _coingecko(query, state)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        return _binance(body, state)

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it


def _handler_for(fake: RateSourcesFake) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"fake": fake})
