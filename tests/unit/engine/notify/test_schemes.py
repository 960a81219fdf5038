"""Each face's retry schedule and acknowledgement rule, driven by a manual
clock: the attempt times are computed from the documents, not copied from
the implementation."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from engine.clock import ManualClock
from engine.notify.schemes import SCHEMES, request_headers
from tests.fakes.merchant_receiver import verify


def attempt_times(scheme: str, clock: ManualClock) -> list[timedelta]:
    """Fail every attempt, starting each exactly when it is due; returns the
    offsets of all attempts from the first."""
    rule = SCHEMES[scheme].next_attempt
    first = clock.now()
    offsets: list[timedelta] = []
    attempts = 0
    while True:
        attempts += 1
        offsets.append(clock.now() - first)
        nxt = rule(attempts, first, clock.now())
        if nxt is None:
            return offsets
        assert nxt >= clock.now()
        clock.set(nxt)
        assert attempts < 500, "schedule never ends"


def test_dryad_schedule_matches_seed_002() -> None:
    # first try, then: immediately, 1, 5, 15, 60 minutes, then hourly; 10 in all
    minutes = [0, 0, 1, 5, 15, 60, 60, 60, 60, 60]
    expected = [timedelta(minutes=sum(minutes[: i + 1])) for i in range(len(minutes))]
    assert attempt_times("dryad", ManualClock()) == expected


def test_quickpay_schedule_matches_seed_003() -> None:
    offsets = attempt_times("quickpay", ManualClock())
    # ten pushes 20 s apart
    assert offsets[:10] == [timedelta(seconds=20 * i) for i in range(10)]
    # then every 30 minutes while within 24 h of the first
    later = offsets[10:]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(offsets[9:], later, strict=False))
    assert later[-1] <= timedelta(hours=24) < later[-1] + timedelta(minutes=30)
    assert len(offsets) == 10 + (24 * 3600 - 180) // 1800


def test_usdt_schedule_is_exponential_over_24_hours() -> None:
    offsets = attempt_times("usdt", ManualClock())
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert gaps[0] == timedelta(seconds=15)
    for a, b in itertools.pairwise(gaps[:10]):
        assert b == 2 * a  # doubling
    assert max(gaps) <= timedelta(hours=4)
    assert offsets[-1] == timedelta(hours=24)  # the last attempt closes the window
    assert len(offsets) == 16


def test_a_late_attempt_moves_the_schedule_not_the_window() -> None:
    """quickpay stops 24 h after the first attempt however late retries ran."""
    first = datetime(2026, 1, 1, tzinfo=ManualClock().now().tzinfo)
    rule = SCHEMES["quickpay"].next_attempt
    assert rule(30, first, first + timedelta(hours=23, minutes=40)) is None
    usdt = SCHEMES["usdt"].next_attempt
    assert usdt(3, first, first + timedelta(hours=23, minutes=59)) == first + timedelta(hours=24)


@pytest.mark.parametrize(
    ("scheme", "status", "body", "done"),
    [
        ("usdt", 200, b"success", True),
        ("usdt", 200, b"  SUCCESS\r\n", True),
        ("usdt", 200, b"ok", False),
        ("usdt", 200, b"success!", False),
        ("usdt", 201, b"success", False),
        ("usdt", 500, b"success", False),
        ("dryad", 200, b"", True),
        ("dryad", 204, b"", True),
        ("dryad", 299, b"anything", True),
        ("dryad", 302, b"", False),
        ("dryad", 400, b"", False),
        ("quickpay", 200, b"OK", True),
        ("quickpay", 200, b"SUCCESS\n", True),
        ("quickpay", 200, b"success", True),
        ("quickpay", 200, b"FAIL", False),
        ("quickpay", 200, b"", False),
        ("quickpay", 500, b"OK", False),
    ],
)
def test_acknowledgement_rules(scheme: str, status: int, body: bytes, done: bool) -> None:
    assert SCHEMES[scheme].acknowledged(status, body) is done


def test_dryad_headers_verify_with_an_independent_implementation() -> None:
    payload = '{"tradeId":1,"orderId":2,"subject":"商品"}'.encode()
    now = ManualClock().now()
    headers = request_headers(SCHEMES["dryad"], "callback-secret", payload, now, "d-1", 3)
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["x-timestamp"] == str(int(now.timestamp() * 1000))
    assert len(lower["x-nonce"]) >= 16
    assert lower["x-delivery-id"] == "d-1" and lower["x-delivery-attempt"] == "3"
    assert verify("dryad", "callback-secret", lower, payload, {})
    assert not verify("dryad", "other-secret", lower, payload, {})
    assert not verify("dryad", "callback-secret", lower, payload + b" ", {})
    again = request_headers(SCHEMES["dryad"], "callback-secret", payload, now, "d-1", 4)
    assert again["X-Nonce"] != headers["X-Nonce"]  # a fresh nonce per attempt
