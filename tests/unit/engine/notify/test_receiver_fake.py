"""The merchant receiver fake itself: a request cut mid-body (the sender was
killed) is dropped like a real HTTP server would, not taken for a bad
signature."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from tests.fakes.merchant_receiver import MerchantReceiver, sorted_md5

KEY = "receiver-key"


def post_raw(port: int, body: bytes, declared: int) -> None:
    head = (
        f"POST /usdt/notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Delivery-Id: d1\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(4096)  # the answer, or b"" when the server drops the request


def wait_for(predicate: Callable[[], bool], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)


def test_a_cut_request_is_dropped_and_counted() -> None:
    with MerchantReceiver(KEY) as receiver:
        body = b'{"order_no":"A1","status":1,"signature":"'
        post_raw(receiver.port, body, declared=len(body) + 40)
        wait_for(lambda: receiver.state.cut == 1)
        assert receiver.state.cut == 1
        assert receiver.received == []


def test_a_whole_request_is_still_checked_and_recorded() -> None:
    with MerchantReceiver(KEY) as receiver:
        fields = {"order_no": "A1", "status": "1"}
        signature = sorted_md5(fields, KEY, "signature")
        body = json.dumps({**fields, "signature": signature}).encode()
        post_raw(receiver.port, body, declared=len(body))
        wait_for(lambda: len(receiver.received) == 1)
        [got] = receiver.received
        assert got.signature_ok and got.acked and receiver.state.cut == 0
