"""Password hashing with scrypt (RFC 7914) from the standard library.

Why scrypt from hashlib: it is memory-hard like Argon2, it is OpenSSL's
implementation (well kept, no extra dependency), and the parameters travel
with each hash so they can be raised later without breaking old hashes.
n=2^15, r=8 uses 32 MiB per hash: slow enough against guessing, quick
enough (about 0.1 s) for a console login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOG2_N = 15
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEM = 128 * 1024 * 1024
MIN_LENGTH = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=MAX_MEM, dklen=size
    )


def hash_password(password: str) -> str:
    """`scrypt$<log2 n>$<r>$<p>$<salt b64>$<key b64>`."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, LOG2_N, R, P, KEY_BYTES)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; False for any malformed stored hash."""
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        derived = _derive(password, base64.b64decode(salt), int(log2_n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


def check_strength(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must be at least {MIN_LENGTH} characters"
    if len(set(password)) < 5:
        return "the password has too few different characters"
    return None
