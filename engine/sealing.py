"""Secrets sealed at rest with an operator's key (AES-256-GCM), for the values
usdtpay must read back in plain: merchant signing keys, console TOTP
secrets, exchange API secrets. A sealed value reads `sealed:v1:<base64
nonce + ciphertext>`; the AES key is SHA-256 of the configured key, and
each use passes its own associated data (`context`), so a value sealed for
one column never opens in another. Without a key values are stored as given,
and a sealed value never opens without the right one (a clear error naming
the setting, never garbage).
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import TYPE_CHECKING

from engine.errors import Unavailable

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed:v1:"


def _aes(secret: str) -> AESGCM:
    # cryptography loads only when a value is sealed or opened: every command
    # imports the column types; `usdtpay status` never opens a secret.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hashlib.sha256(secret.encode()).digest())


def seal(value: str, secret: str, context: bytes) -> str:
    """`value` sealed with `secret` for one use (`context`)."""
    if not secret or not value or value.startswith(PREFIX):
        return value
    nonce = os.urandom(12)
    return PREFIX + base64.b64encode(nonce + _aes(secret).encrypt(nonce, value.encode(), context)).decode()


def unseal(stored: str, secret: str, context: bytes, *, what: str, setting: str) -> str:
    """The plain value; `what` and `setting` name the secrets and the key's
    setting in the error an operator sees."""
    if not stored.startswith(PREFIX):
        return stored  # stored before a key was set: still plain
    if not secret:
        raise Unavailable(f"{what} are sealed: set {setting} to the secret used")
    from cryptography.exceptions import InvalidTag

    raw = base64.b64decode(stored[len(PREFIX) :])
    try:
        return _aes(secret).decrypt(raw[:12], raw[12:], context).decode()
    except InvalidTag as exc:
        raise Unavailable(f"{what} do not open with {setting}") from exc
