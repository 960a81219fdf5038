"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), SHA-1,
6 digits, 30-second steps: what Google Authenticator, Aegis, 1Password and
FreeOTP read from an otpauth:// URI.

Written here (about forty lines over hmac) rather than taken from a
package: the algorithm is short and fixed, and the tests check it against
the RFC's own test vectors.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# Accept the previous and the next step too: phone clocks drift.
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226 recommends at least 128)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def hotp(secret_b32: str, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step_at(when: datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def code_at(secret_b32: str, when: datetime) -> str:
    return hotp(secret_b32, step_at(when))


def matching_step(secret_b32: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step whose code is `code` (within the drift) and later than
    `last_step`, so a code is accepted once; None otherwise."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare every candidate (no early exit) in constant time.
        if hmac.compare_digest(hotp(secret_b32, step), code) and step > last_step:
            found = step
    return found


def provisioning_uri(secret_b32: str, username: str, issuer: str = "usdtpay") -> str:
    label = quote(f"{issuer}:{username}")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"
