"""Column types that keep a secret sealed at rest (engine.sealing): merchant
signing keys and console TOTP secrets. Here with the models rather than in
engine.merchant_keys / engine.totp_sealing, so that configuring those keys
(every command does at start) loads no SQLAlchemy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from engine import merchant_keys, totp_sealing


class _Sealed(TypeDecorator[str]):
    """A String column whose values `sealing` seals on the way in and opens
    on the way out (its seal_stored / open_stored)."""

    impl = String(255)
    cache_ok = True
    sealing: Any

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return self.sealing.seal_stored(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return self.sealing.open_stored(value) if isinstance(value, str) else value


class SealedKey(_Sealed):
    """A String column holding a signing key, sealed when a secret is configured."""

    cache_ok = True  # SQLAlchemy reads it from each class, not from the base
    sealing = merchant_keys


class SealedTotp(_Sealed):
    """A String column holding a TOTP secret, sealed when a key is configured."""

    cache_ok = True
    sealing = totp_sealing
