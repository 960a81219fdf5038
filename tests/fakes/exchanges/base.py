"""What the three exchange simulators share: a clock that can be skewed,
sliding-window rate limits, queued faults, and JSON helpers.

Faults are queued: `sim.fail("5xx", path="deposit", times=2)`. Kinds:

    5xx        the exchange's 5xx answer
    timeout    hold the answer `timeout_s` seconds (longer than the client waits)
    garbage    HTTP 200 with a body that is not JSON
    malformed  HTTP 200 JSON of the wrong shape
    auth       the exchange's "bad key" answer
    ratelimit  the exchange's rate-limit answer
    ban        (Binance) HTTP 418, IP banned
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.fiat_http import SimRequest, SimResponse, ThreadedSim

FAULT_KINDS = ("5xx", "timeout", "garbage", "malformed", "auth", "ratelimit", "ban")


@dataclass
class Fault:
    kind: str
    path: str | None
    times: int


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def split(request: SimRequest) -> tuple[str, str, dict[str, str]]:
    """(path, raw query, decoded params) of a request."""
    parts = urlsplit(request.path)
    return parts.path, parts.query, dict(parse_qsl(parts.query, keep_blank_values=True))


class ExchangeSim(ThreadedSim):
    """Subclasses implement `route`; limits are {path: (requests, seconds)}."""

    default_limits: ClassVar[dict[str, tuple[int, float]]] = {}

    def __init__(self, *, skew_s: float = 0.0, timeout_s: float = 3.0) -> None:
        super().__init__()
        # A client that timed out has gone: its broken pipe is not news.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.limits = dict(self.default_limits)
        self.skew_s = skew_s  # the exchange's clock runs this far ahead of ours
        self.timeout_s = timeout_s
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # why requests were refused, by reason
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.RLock()

    # -- test controls -----------------------------------------------------
    def now_ms(self) -> int:
        return int((time.time() + self.skew_s) * 1000)

    def fail(self, kind: str, *, path: str | None = None, times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self.faults.append(Fault(kind, path, times))

    def set_limit(self, path: str, requests: int, seconds: float) -> None:
        with self._lock:
            self.limits = {**self.limits, path: (requests, seconds)}
            self._hits.pop(path, None)

    # -- shared request handling -------------------------------------------
    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.path is None or fault.path in path):
                    fault.times -= 1
                    return fault
        return None

    def over_limit(self, path: str) -> bool:
        """Count this request against the path's sliding window."""
        limit = self.limits.get(path)
        if limit is None:
            return False
        requests, seconds = limit
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(path, deque())
            while hits and hits[0] <= now - seconds:
                hits.popleft()
            if len(hits) >= requests:
                self.refused["rate_limit"] += 1
                return True
            hits.append(now)
            return False

    def refuse(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1

    def handle(self, request: SimRequest) -> SimResponse:
        path, _, _ = split(request)
        with self._lock:
            self.counts[path] += 1
        fault = self.take_fault(path)
        if fault is not None:
            if fault.kind == "timeout":
                return SimResponse(200, b"{}", {"Content-Type": "application/json"}, delay=self.timeout_s)
            if fault.kind == "garbage":
                return SimResponse(200, b"<html>upstream broke</html>", {"Content-Type": "text/html"})
            return self.fault_answer(fault.kind, path)
        return self.route(request)

    def route(self, request: SimRequest) -> SimResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    def fault_answer(self, kind: str, path: str) -> SimResponse:  # pragma: no cover - abstract
        raise NotImplementedError
