"""Sealing stored exchange API secrets with the operator's key
(`exchanges.secrets_key`): the same AES-256-GCM sealing as merchant signing
keys and console TOTP secrets (engine.sealing), with associated
data of its own, so a value sealed for one column never opens in another.
Without a key values are stored as given, and a sealed value cannot be
opened (a clear error naming the setting, never garbage).
"""

from __future__ import annotations

from engine import sealing

CONTEXT = b"usdtpay exchange secret"
SETTING = "USDTPAY_EXCHANGES__SECRETS_KEY"


def seal(value: str, key: str) -> str:
    return sealing.seal(value, key, CONTEXT)


def unseal(stored: str, key: str) -> str:
    return sealing.unseal(stored, key, CONTEXT, what="exchange secrets", setting=SETTING)
