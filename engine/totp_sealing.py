"""Console accounts' TOTP secrets at rest.

The verifier needs a TOTP secret's plain value, so it cannot be hashed like
the password; it is stored sealed (AES-256-GCM, engine.sealing,
its own associated data) with `admin.totp_key` (USDTPAY_ADMIN__TOTP_KEY), a
key that lives in the settings and never in the database: a copy of the
database gives no second factor. The column type does it
(engine.models.sealed.SealedTotp, through seal_stored / open_stored), so
every reader gets the plain secret; without the right key it gets the
sealed text, which sign-in refuses (503 naming the setting) once the
password matched.

Rows stored before the key existed are plain and still open; with the key
set, `usdtpay admin seal-totp` seals them all and a sign-in seals its own.
The key is process-wide (`configure`), set from settings by `usdtpay` and
by create_app before any account is read; like engine.merchant_keys, this
module loads no SQLAlchemy, so configuring it costs a command nothing.
"""

from __future__ import annotations

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


def seal_stored(value: str) -> str:
    """A TOTP secret as stored, under the configured key."""
    return seal(value, _key["value"], CONTEXT)


def open_stored(stored: str) -> str:
    try:
        return unseal(stored, _key["value"], CONTEXT, what="console TOTP secrets", setting=SETTING)
    except Unavailable:
        # Without the right key the account still loads (`admin list`,
        # `admin disable` work); sign-in refuses it (check_opened).
        return stored


def check_opened(secret: str) -> None:
    """503 naming the setting for a secret that stayed sealed."""
    if is_sealed(secret):
        raise Unavailable(f"console TOTP secrets do not open: set {SETTING} to the key they were sealed with")
