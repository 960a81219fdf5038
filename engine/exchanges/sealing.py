"""Sealing stored exchange API secrets with the operator's key (AES-256-GCM).

A sealed value reads `sealed:v1:<base64 nonce + ciphertext>`; the AES key
is SHA-256 of `exchanges.secrets_key`. Without a key values are stored as
given, and a sealed value cannot be opened (a clear error, never garbage).
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.errors import Unavailable

PREFIX = "sealed:v1:"
CONTEXT = b"usdtpay exchange secret"


def _aes(key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(key.encode()).digest())


def seal(value: str, key: str) -> str:
    if not key or not value:
        return value
    nonce = os.urandom(12)
    return PREFIX + base64.b64encode(nonce + _aes(key).encrypt(nonce, value.encode(), CONTEXT)).decode()


def unseal(stored: str, key: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    if not key:
        raise Unavailable("exchange secrets are sealed: set USDTPAY_EXCHANGES__SECRETS_KEY to the key used")
    raw = base64.b64decode(stored[len(PREFIX) :])
    try:
        return _aes(key).decrypt(raw[:12], raw[12:], CONTEXT).decode()
    except InvalidTag as exc:
        raise Unavailable("exchange secrets do not open with USDTPAY_EXCHANGES__SECRETS_KEY") from exc
