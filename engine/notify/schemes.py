"""Per-face delivery rules: request headers, what counts as acknowledged,
and when to try again.

Schedules are pure functions of (attempts made, first attempt time, this
attempt's start), so they are tested with a manual clock, not sleeps.

- usdt (seed 004 gives none): exponential, 15 s doubling per failure and
  capped at 4 h between attempts; the last attempt is made 24 h after the
  first, then the row is failed (16 attempts in all).
- dryad (seed 002): the first try, then immediately, after 1, 5, 15 and 60
  minutes, then hourly; at most 10 attempts in all.
- quickpay (seed 003): every 20 s for the first 10 attempts, then every
  30 minutes while within 24 h of the first attempt.
- epay (EPay V1 gives none): a GET of notify_url with the signed fields in
  the query; after 15 s, 1, 3, 10 and 30 minutes, 1, 2 and 4 hours, then
  every 4 hours, the last attempt 24 h after the first (14 attempts in all).
  Acknowledged by HTTP 200 with the body `success`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

USER_AGENT = "usdtpay-notify/1"

USDT_FIRST_DELAY = timedelta(seconds=15)
USDT_MAX_DELAY = timedelta(hours=4)
USDT_WINDOW = timedelta(hours=24)

DRYAD_DELAYS = (timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
DRYAD_LATER_DELAY = timedelta(hours=1)
DRYAD_MAX_ATTEMPTS = 10

QUICKPAY_FAST_DELAY = timedelta(seconds=20)
QUICKPAY_FAST_ATTEMPTS = 10
QUICKPAY_SLOW_DELAY = timedelta(minutes=30)
QUICKPAY_WINDOW = timedelta(hours=24)

EPAY_DELAYS = tuple(timedelta(seconds=s) for s in (15, 60, 180, 600, 1800, 3600, 2 * 3600, 4 * 3600))
EPAY_LATER_DELAY = timedelta(hours=4)
EPAY_WINDOW = timedelta(hours=24)

# attempts made so far (>= 1), first attempt's start, this attempt's start
# -> when to try next, or None when the schedule is exhausted.
NextAttempt = Callable[[int, datetime, datetime], datetime | None]


def usdt_next(attempts: int, first: datetime, started: datetime) -> datetime | None:
    deadline = first + USDT_WINDOW
    if started >= deadline:
        return None
    delay: timedelta = min(USDT_FIRST_DELAY * 2 ** min(attempts - 1, 20), USDT_MAX_DELAY)
    return min(started + delay, deadline)


def dryad_next(attempts: int, first: datetime, started: datetime) -> datetime | None:
    if attempts >= DRYAD_MAX_ATTEMPTS:
        return None
    index = attempts - 1
    return started + (DRYAD_DELAYS[index] if index < len(DRYAD_DELAYS) else DRYAD_LATER_DELAY)


def quickpay_next(attempts: int, first: datetime, started: datetime) -> datetime | None:
    delay = QUICKPAY_FAST_DELAY if attempts < QUICKPAY_FAST_ATTEMPTS else QUICKPAY_SLOW_DELAY
    nxt = started + delay
    return nxt if nxt <= first + QUICKPAY_WINDOW else None


def epay_next(attempts: int, first: datetime, started: datetime) -> datetime | None:
    deadline = first + EPAY_WINDOW
    if started >= deadline:
        return None
    index = attempts - 1
    delay = EPAY_DELAYS[index] if index < len(EPAY_DELAYS) else EPAY_LATER_DELAY
    return min(started + delay, deadline)


def usdt_acknowledged(status: int, body: bytes) -> bool:
    """HTTP 200 and the body `success` (trimmed, any case)."""
    return status == 200 and body.strip().lower() == b"success"


def dryad_acknowledged(status: int, body: bytes) -> bool:
    return 200 <= status < 300


def quickpay_acknowledged(status: int, body: bytes) -> bool:
    """`OK` or `SUCCESS` (trimmed, any case) from a 2xx answer."""
    return 200 <= status < 300 and body.strip().upper() in (b"OK", b"SUCCESS")


def epay_acknowledged(status: int, body: bytes) -> bool:
    """HTTP 200 and the body `success` (trimmed, a UTF-8 BOM dropped, any
    case). Stock EPay takes any body containing `success`; an error page
    that happens to contain the word must not count as delivered."""
    return status == 200 and body.strip().removeprefix(b"\xef\xbb\xbf").strip().lower() == b"success"


def dryad_signature(secret: str, payload: bytes, nonce: str, timestamp: str) -> str:
    """Hex HMAC-SHA256 over payload + nonce + timestamp (seed 002)."""
    return hmac.new(secret.encode(), payload + nonce.encode() + timestamp.encode(), sha256).hexdigest()


def dryad_headers(secret: str, payload: bytes, now: datetime) -> dict[str, str]:
    """A fresh nonce and timestamp per attempt, signed over the exact bytes."""
    nonce = secrets.token_hex(16)
    timestamp = str(int(now.timestamp() * 1000))
    return {
        "X-Signature": dryad_signature(secret, payload, nonce, timestamp),
        "X-Nonce": nonce,
        "X-Timestamp": timestamp,
    }


def no_headers(secret: str, payload: bytes, now: datetime) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Scheme:
    name: str
    next_attempt: NextAttempt
    acknowledged: Callable[[int, bytes], bool]
    signed_headers: Callable[[str, bytes, datetime], dict[str, str]]
    # POST sends the body; GET appends it to the URL as the query (epay).
    method: str = "POST"


SCHEMES: dict[str, Scheme] = {
    "usdt": Scheme("usdt", usdt_next, usdt_acknowledged, no_headers),
    "dryad": Scheme("dryad", dryad_next, dryad_acknowledged, dryad_headers),
    "quickpay": Scheme("quickpay", quickpay_next, quickpay_acknowledged, no_headers),
    "epay": Scheme("epay", epay_next, epay_acknowledged, no_headers, method="GET"),
}


def request_headers(
    scheme: Scheme, secret: str, payload: bytes, now: datetime, delivery_id: str, attempt_no: int
) -> dict[str, str]:
    """Every delivery carries its stable id (the merchant deduplicates on
    it) and the attempt number; the scheme adds its signature headers."""
    content_type = {"Content-Type": "application/json; charset=utf-8"} if scheme.method == "POST" else {}
    return {
        **content_type,
        "User-Agent": USER_AGENT,
        "X-Delivery-Id": delivery_id,
        "X-Delivery-Attempt": str(attempt_no),
        **scheme.signed_headers(secret, payload, now),
    }
