"""Console accounts' TOTP secrets at rest.

The verifier needs a TOTP secret's plain value, so it cannot be hashed like
the password; it is stored sealed (AES-256-GCM, engine.sealing,
its own associated data) with `admin.totp_key` (USDTPAY_ADMIN__TOTP_KEY), a
key that lives in the settings and never in the database: a copy of the
database gives no second factor. The column type does it (SealedTotp), so
every reader gets the plain secret; without the right key it gets the
sealed text, which sign-in refuses (503 naming the setting) once the
password matched.

Rows stored before the key existed are plain and still open; with the key
set, `usdtpay admin seal-totp` seals them all and a sign-in seals its own.
The key is process-wide (`configure`), set from settings by `usdtpay` and
by create_app before any account is read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from engine.errors import Unavailable
from engine.sealing import PREFIX, seal, unseal

CONTEXT = b"usdtpay admin totp secret"
SETTING = "USDTPAY_ADMIN__TOTP_KEY"
_key = {"value": ""}


def configure(key: str) -> None:
    """The key TOTP secrets are sealed with from now on ("" = stored plain)."""
    _key["value"] = key


def configured() -> bool:
    return bool(_key["value"])


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SealedTotp(TypeDecorator[str]):
    """A String column holding a TOTP secret, sealed when a key is configured."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return seal(value, _key["value"], CONTEXT) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return unseal(value, _key["value"], CONTEXT, what="console TOTP secrets", setting=SETTING)
        except Unavailable:
            # Without the right key the account still loads (`admin list`,
            # `admin disable` work); sign-in refuses it (check_opened).
            return value


def check_opened(secret: str) -> None:
    """503 naming the setting for a secret that stayed sealed."""
    if is_sealed(secret):
        raise Unavailable(f"console TOTP secrets do not open: set {SETTING} to the key they were sealed with")
