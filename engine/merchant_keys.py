"""Merchant secrets at rest (issue 12, finding 10).

A merchant has two secrets with two jobs:
- the signing key: the MD5 / HMAC schemes need its plain value on both
  sides, so it is stored retrievably; with `merchant_keys_secret` set it is
  stored sealed (AES-256-GCM, `sealed:v1:<base64>`), so a copy of the
  database alone does not hand it out. Sealing is done by the column type
  (engine.models.sealed.SealedKey, through seal_stored / open_stored):
  every reader gets the plain key, no caller changes.
- the API key (`X-Api-Key: <pid>:<api key>` on the unsigned faces): a
  bearer secret that is only ever compared, so only its SHA-256 is stored.
  It is not the signing key: a leaked API key cannot sign, and a leaked
  signing key is not a bearer token.

The sealing secret is process-wide (`configure`), set once from settings by
`usdtpay` and by create_app before any merchant is read. This module loads
no SQLAlchemy (the column type lives with the models), so every command can
configure it at start without loading the database layer (`usdtpay status`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from engine import sealing

CONTEXT = b"usdtpay merchant signing key"
_secret = {"value": ""}


def configure(secret: str) -> None:
    """The secret signing keys are sealed with from now on ("" = stored plain)."""
    _secret["value"] = secret


def seal(value: str, secret: str) -> str:
    return sealing.seal(value, secret, CONTEXT)


def unseal(stored: str, secret: str) -> str:
    return sealing.unseal(
        stored, secret, CONTEXT, what="merchant keys", setting="USDTPAY_MERCHANT_KEYS_SECRET"
    )


def seal_stored(value: str) -> str:
    """A signing key as stored, under the configured secret."""
    return seal(value, _secret["value"])


def open_stored(stored: str) -> str:
    return unseal(stored, _secret["value"])


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def api_key_matches(stored_hash: str | None, presented: str) -> bool:
    """Constant time; a merchant without an API key matches nothing."""
    expected = stored_hash or "\x00no-api-key"
    return hmac.compare_digest(expected.encode(), hash_api_key(presented).encode()) and bool(stored_hash)
