"""Column types that keep a secret sealed at rest (engine.sealing): merchant
signing keys and console TOTP secrets. Here with the models rather than in
engine.merchant_keys / engine.totp_sealing, so that configuring those keys
(every command does at start) loads no SQLAlchemy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from engine import merchant_keys, totp_sealing


class SealedKey(TypeDecorator[str]):
    """A String column holding a signing key, sealed when a secret is configured."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return merchant_keys.seal_stored(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return merchant_keys.open_stored(value) if isinstance(value, str) else value


class SealedTotp(TypeDecorator[str]):
    """A String column holding a TOTP secret, sealed when a key is configured."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return totp_sealing.seal_stored(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return totp_sealing.open_stored(value) if isinstance(value, str) else value
