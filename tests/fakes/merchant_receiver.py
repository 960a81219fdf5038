"""A merchant's notification endpoint on loopback, for all three schemes.

It checks every request the way a merchant following the seed documents
would, with its own implementation of each signature (nothing imported from
engine.signing or engine.notify):

- /usdt/...     seed 004: JSON fields; `signature` is the upper-case MD5 of
                the non-empty fields (except signature) sorted by name as
                `k=v` joined by `&`, plus `&key=<merchant key>`. Answers
                `success`.
- /dryad/...    seed 002: hex HMAC-SHA256 with the callback secret over
                body + X-Nonce + X-Timestamp. Answers 200.
- /quickpay/... seed 003 with the sorted-parameter MD5 in `sign`. Answers `OK`.
- /epay/...     EPay V1: a GET whose query carries the fields; `sign` is
                checked with tests/fakes/epay_client.py (the shop's own EPay
                signer, `epay_mode` plain or key). Answers `success`.

A request whose signature does not verify gets 400 and is recorded with
`signature_ok=False`. Faults on demand: `fail` (HTTP 500), `timeout` (the
right answer after `delay`, 10 s by default, so never acknowledged),
`wrong_body` (200 with `fail`), `flap` (fail, succeed, fail, ...),
`redirect` (302); `stop()` / `start()` take it down and bring it back on
the same port.

    with MerchantReceiver(key) as receiver:
        url = receiver.url("usdt")
        receiver.behave("fail", times=3)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes import epay_client

MODES = ("ok", "fail", "timeout", "wrong_body", "flap", "redirect")


@dataclass
class Received:
    scheme: str
    path: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, Any]
    signature_ok: bool
    delivery_id: str
    status: int
    answer: bytes
    acked: bool
    at: float


def _text(value: Any) -> str:
    """How a PHP/Java merchant renders a value for signing: strings as they
    are, numbers as their JSON text, booleans true/false, objects as compact
    JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def sorted_md5(fields: dict[str, Any], key: str, sign_field: str) -> str:
    pairs = sorted((k, v) for k, v in fields.items() if k != sign_field and v is not None and v != "")
    text = "&".join(f"{k}={_text(v)}" for k, v in pairs) + f"&key={key}"
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def parse_fields(body: bytes) -> dict[str, Any]:
    # Numbers stay as their text so the signature sees what was sent.
    data = json.loads(body, parse_int=str, parse_float=str)
    return data if isinstance(data, dict) else {}


def verify(scheme: str, key: str, headers: dict[str, str], body: bytes, fields: dict[str, Any]) -> bool:
    if scheme == "usdt":
        given = str(fields.get("signature", ""))
        return hmac.compare_digest(sorted_md5(fields, key, "signature"), given.upper())
    if scheme == "quickpay":
        given = str(fields.get("sign", ""))
        return hmac.compare_digest(sorted_md5(fields, key, "sign"), given.upper())
    sign_data = body + headers.get("x-nonce", "").encode() + headers.get("x-timestamp", "").encode()
    expected = hmac.new(key.encode(), sign_data, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-signature", ""))


SUCCESS = {"usdt": b"success", "dryad": b'{"code":200,"msg":"ok"}', "quickpay": b"OK", "epay": b"success"}


@dataclass
class Behaviour:
    mode: str = "ok"
    times: int | None = None  # None: until told otherwise
    delay: float = 0.0  # extra time before answering, any mode
    flap_count: int = 0


@dataclass
class ReceiverState:
    key: str
    epay_mode: str = "plain"
    behaviour: Behaviour = field(default_factory=Behaviour)
    received: list[Received] = field(default_factory=list)
    acked_ids: set[str] = field(default_factory=set)
    after_ack: list[str] = field(default_factory=list)  # requests for an id already acknowledged
    in_flight: dict[str, int] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)  # ids sent twice at the same time
    cut: int = 0  # requests whose body never fully arrived
    lock: threading.Lock = field(default_factory=threading.Lock)


class MerchantReceiver:
    def __init__(self, key: str, host: str = "127.0.0.1", port: int = 0, *, epay_mode: str = "plain") -> None:
        self.state = ReceiverState(key=key, epay_mode=epay_mode)
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> MerchantReceiver:
        handler = type("Handler", (_Handler,), {"state": self.state})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256})
        server = server_class((self.host, self.port), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until start() again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MerchantReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- control and inspection --------------------------------------------
    def url(self, scheme: str, path: str = "notify") -> str:
        return f"http://{self.host}:{self.port}/{scheme}/{path}"

    def behave(self, mode: str, *, times: int | None = None, delay: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self.state.lock:
            self.state.behaviour = Behaviour(mode=mode, times=times, delay=delay)

    @property
    def received(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.received)

    def acked(self) -> list[Received]:
        return [r for r in self.received if r.acked]

    def acked_order(self) -> list[str]:
        """Delivery ids in the order they were first acknowledged."""
        seen: list[str] = []
        for r in self.acked():
            if r.delivery_id not in seen:
                seen.append(r.delivery_id)
        return seen


class _Handler(BaseHTTPRequestHandler):
    state: ReceiverState
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        """EPay notifications: the fields are the query string."""
        headers = {k.lower(): v for k, v in self.headers.items()}
        scheme = self.path.strip("/").split("/", 1)[0]
        query = urlsplit(self.path).query
        try:
            pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            pairs = []
        fields: dict[str, Any] = dict(pairs)
        ok = scheme == "epay" and len(fields) == len(pairs)
        ok = ok and epay_client.verify(fields, self.state.key, self.state.epay_mode)
        self._handle(scheme, headers, query.encode(), fields, ok)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender died mid-request (a killed worker): like any HTTP
            # server, drop the incomplete request instead of handling it.
            with self.state.lock:
                self.state.cut += 1
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        scheme = self.path.strip("/").split("/", 1)[0]
        try:
            fields = parse_fields(body)
        except ValueError:
            fields = {}
            ok = False
        else:
            # EPay notifications are GETs: one POSTed there is not one.
            ok = (
                scheme in SUCCESS
                and scheme != "epay"
                and verify(scheme, self.state.key, headers, body, fields)
            )
        self._handle(scheme, headers, body, fields, ok)

    def _handle(
        self, scheme: str, headers: dict[str, str], body: bytes, fields: dict[str, Any], ok: bool
    ) -> None:
        delivery_id = headers.get("x-delivery-id", "")
        self._enter(delivery_id)
        try:
            status, answer, signature_ok = self._decide(scheme, ok)
        finally:
            self._leave(delivery_id)
        acked = signature_ok and answer == SUCCESS.get(scheme) and status == 200
        self._record(
            Received(
                scheme,
                self.path,
                headers,
                body,
                fields,
                signature_ok,
                delivery_id,
                status,
                answer,
                acked,
                time.time(),
            )
        )
        with contextlib.suppress(OSError):  # the client gave up (timed out)
            self._answer(status, answer)

    def _decide(self, scheme: str, ok: bool) -> tuple[int, bytes, bool]:
        mode, delay = self._next_mode()
        if delay:
            time.sleep(delay)
        if not ok:
            return 400, b"bad signature", False
        if mode == "fail":
            return 500, b"internal error", True
        if mode == "wrong_body":
            return 200, b"fail", True
        if mode == "redirect":
            return 302, b"", True
        if mode == "timeout":  # the right answer, but after the sender gave up
            return 200, SUCCESS[scheme] + b" (late)", True
        return 200, SUCCESS[scheme], True

    def _next_mode(self) -> tuple[str, float]:
        with self.state.lock:
            b = self.state.behaviour
            mode = b.mode
            if mode == "flap":
                mode = "fail" if b.flap_count % 2 == 0 else "ok"
                b.flap_count += 1
            delay = b.delay if mode != "timeout" else (b.delay or 10.0)
            if b.times is not None:
                b.times -= 1
                if b.times <= 0:
                    self.state.behaviour = Behaviour()
            return mode, delay

    def _enter(self, delivery_id: str) -> None:
        with self.state.lock:
            if self.state.in_flight.get(delivery_id, 0) > 0:
                self.state.overlaps.append(delivery_id)
            self.state.in_flight[delivery_id] = self.state.in_flight.get(delivery_id, 0) + 1

    def _leave(self, delivery_id: str) -> None:
        with self.state.lock:
            self.state.in_flight[delivery_id] -= 1

    def _record(self, received: Received) -> None:
        with self.state.lock:
            if received.delivery_id in self.state.acked_ids:
                self.state.after_ack.append(received.delivery_id)
            if received.acked:
                self.state.acked_ids.add(received.delivery_id)
            self.state.received.append(received)

    def _answer(self, status: int, answer: bytes) -> None:
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
