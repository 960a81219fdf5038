"""A TRON full + solidity node over real HTTP on loopback.

Serves the java-tron HTTP API paths a watcher uses, from a shared
`TronChain` (tests/fakes/tron_chain.py):

    /wallet/getnowblock  /walletsolidity/getnowblock
    /wallet/getblockbynum  /walletsolidity/getblockbynum
    /wallet/gettransactioninfobyblocknum  /walletsolidity/gettransactioninfobyblocknum
    /wallet/gettransactioninfobyid  /walletsolidity/gettransactioninfobyid
    /wallet/gettransactionbyid  /walletsolidity/gettransactionbyid
    /wallet/getnodeinfo

Like a real node: unknown ids and blocks above the (solid) head answer `{}`
or `[]`, never 404; bad parameters answer HTTP 200 with `{"Error": ...}`.
Like TronGrid: when keys are configured the `TRON-PRO-API-KEY` header is
required, and a suspended key is refused for the whole suspension.

Faults are queued per node: `node.fail("429", path="blocknum", times=2)`.

    chain = TronChain(head=60_000_300)
    with TronNodeSim(chain, api_keys={"k1"}) as node:
        ... node.url, node.counts["/walletsolidity/gettransactioninfobyblocknum"]

Run alone (for benchmarks): `python -m tests.fakes.tron_node --port 0`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.tron_chain import TronChain, watched_address

FAULT_KINDS = (
    "429",  # TronGrid's per-key rate limit
    "403_suspended",  # "The key exceeds the frequency limit(15), and the query server is suspended for 30s"
    "500",
    "502",
    "503",
    "timeout",  # hold the request longer than any sane client timeout
    "error_body",  # HTTP 200 with {"Error": "..."}
    "malformed",  # HTTP 200 with a truncated JSON body
    "disconnect",  # close the socket without an answer
)


def suspension_message(seconds: int) -> str:
    return f"The key exceeds the frequency limit(15), and the query server is suspended for {seconds}s"


@dataclass
class Fault:
    kind: str
    path: str | None = None  # substring of the request path; None = any
    times: int = 1
    suspend_s: int = 30
    delay_s: float = 5.0


class TronNodeSim:
    """One node; several can share a chain (e.g. one whose solid head lags)."""

    def __init__(
        self,
        chain: TronChain,
        *,
        api_keys: set[str] | None = None,
        solid_behind: int = 0,
        empty_style: str = "list",
        port: int = 0,
    ) -> None:
        if empty_style not in ("list", "object"):
            raise ValueError("empty_style is 'list' ([]) or 'object' ({})")
        self.chain = chain
        self.api_keys = api_keys
        self.solid_behind = solid_behind  # extra lag of this node's solid head
        self.empty_style = empty_style
        self.counts: Counter[str] = Counter()
        self.key_counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()  # by reason
        self.faults: list[Fault] = []
        self.suspended_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> TronNodeSim:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TronNodeSim:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------
    def fail(self, kind: str, *, path: str | None = None, times: int = 1, **options: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self.faults.append(Fault(kind, path, times, **options))

    @property
    def solid(self) -> int:
        return self.chain.solid - self.solid_behind

    def total_requests(self) -> int:
        return sum(self.counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.key_counts.clear()
            self.rejected.clear()

    # -- request handling (called from server threads) -------------------
    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.path is None or fault.path in path):
                    fault.times -= 1
                    return fault
        return None

    def check_key(self, key: str | None) -> tuple[int, dict[str, Any]] | None:
        """TronGrid's answers for a missing, unknown or suspended key."""
        if self.api_keys is None:
            return None
        if key is None or key not in self.api_keys:
            self.rejected["bad_key"] += 1
            return 401, {"Error": "ApiKey not exists"}
        until = self.suspended_until.get(key, 0.0)
        if until > time.monotonic():
            self.rejected["while_suspended"] += 1
            left = int(until - time.monotonic()) + 1
            return 403, {"Error": suspension_message(left)}
        return None

    def answer(self, path: str, params: dict[str, Any]) -> Any:
        """The node's JSON answer for a well-formed request."""
        chain = self.chain
        solidity = path.startswith("/walletsolidity/")
        top = self.solid if solidity else chain.head
        name = path.rsplit("/", 1)[-1]
        if name == "getnowblock":
            return chain.block(top)
        if name == "getnodeinfo" and not solidity:
            return {
                "block": f"Num:{chain.head},ID:x",
                "solidityBlock": f"Num:{self.solid},ID:x",
                "activeConnectCount": 30,
            }
        if name in ("getblockbynum", "gettransactioninfobyblocknum"):
            num = params.get("num")
            if not isinstance(num, int) or isinstance(num, bool) or num < 0:
                return {"Error": f"class java.lang.IllegalArgumentException : invalid num {num!r}"}
            if name == "getblockbynum":
                return chain.block(num) if num <= top else {}
            return RawJson(chain.tx_infos_json(num)) if num <= top else []
        if name in ("gettransactioninfobyid", "gettransactionbyid"):
            value = params.get("value")
            if not isinstance(value, str) or len(value) != 64:
                return {"Error": "class org.tron.core.exception.BadItemException : invalid transaction id"}
            info = chain.find_tx(value.lower())
            if info is None or info["blockNumber"] > top:
                return {}
            return info if name == "gettransactioninfobyid" else chain.transaction(value.lower())
        return None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler playing "timeout" must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are cancelled reset their connections: expected here.
        return


class RawJson:
    """A pre-rendered JSON body (block infos are rendered once per block)."""

    def __init__(self, body: bytes) -> None:
        self.body = body


class _Handler(BaseHTTPRequestHandler):
    node: TronNodeSim  # set per server by _handler_for
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle + the
    # client's delayed ACK stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *_: Any) -> None:  # keep test output clean
        return

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length else b"")

    def _serve(self, raw: bytes) -> None:
        node = self.node
        path = self.path.split("?", 1)[0]
        key = self.headers.get("TRON-PRO-API-KEY")
        with node._lock:
            node.counts[path] += 1
            if key:
                node.key_counts[key] += 1
        refused = node.check_key(key)
        if refused is not None:
            return self._json(*refused)
        fault = node.take_fault(path)
        if fault is not None and self._fault(fault, key):
            return None
        try:
            params = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return self._json(200, {"Error": "com.alibaba.fastjson.JSONException : syntax error"})
        return self._answer(path, params if isinstance(params, dict) else {})

    def _answer(self, path: str, params: dict[str, Any]) -> None:
        node = self.node
        result = node.answer(path, params)
        if result is None:
            return self._send(404, b"<html><body><h2>404 Not Found</h2></body></html>", "text/html")
        if not result and isinstance(result, list | dict):
            result = [] if node.empty_style == "list" else {}
            if path.endswith(("getblockbynum", "gettransactioninfobyid", "gettransactionbyid")):
                result = {}
        if isinstance(result, RawJson):
            if result.body == b"[]" and node.empty_style == "object":
                return self._send(200, b"{}", "application/json")
            return self._send(200, result.body, "application/json")
        return self._json(200, result)

    def _fault(self, fault: Fault, key: str | None) -> bool:
        """Play a fault; False when the request should be answered normally after all."""
        node, kind = self.node, fault.kind
        if kind == "429":
            self._send(429, b'{"Error":"Too Many Requests"}', "application/json", {"Retry-After": "1"})
        elif kind == "403_suspended":
            if key is not None:
                node.suspended_until[key] = time.monotonic() + fault.suspend_s
            msg = suspension_message(fault.suspend_s)
            self._json(403, {"Success": False, "Error": msg, "StatusCode": 403})
        elif kind in ("500", "502", "503"):
            self._send(int(kind), b"<html><body><h1>Bad Gateway</h1></body></html>", "text/html")
        elif kind == "timeout":
            time.sleep(fault.delay_s)
            return False
        elif kind == "error_body":
            self._json(200, {"Error": "class java.lang.NullPointerException : null"})
        elif kind == "malformed":
            self._send(200, b'[{"id":"7f0c', "application/json")
        elif kind == "disconnect":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        return True

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout test): nothing to do
            self.close_connection = True


def _handler_for(node: TronNodeSim) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"node": node})


def main() -> None:
    """Serve a generated chain until killed; prints the URL on the first line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first-block", type=int, default=60_000_000)
    parser.add_argument("--head", type=int, default=60_001_000)
    parser.add_argument("--noise-usdt", type=int, default=200)
    parser.add_argument("--noise-other", type=int, default=20)
    parser.add_argument("--watched", type=int, default=0, help="how many watched_address() recipients")
    parser.add_argument("--ours-per-block", type=int, default=0)
    parser.add_argument("--empty-style", choices=("list", "object"), default="list")
    args = parser.parse_args()
    chain = TronChain(
        seed=args.seed,
        first_block=args.first_block,
        head=args.head,
        noise_usdt=args.noise_usdt,
        noise_other=args.noise_other,
        recipients=[watched_address(i, args.seed) for i in range(args.watched)],
        ours_per_block=args.ours_per_block,
    )
    node = TronNodeSim(chain, port=args.port, empty_style=args.empty_style)
    print(node.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        node._server.serve_forever()


if __name__ == "__main__":
    main()
