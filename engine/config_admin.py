"""The operator console's settings (`USDTPAY_ADMIN__*`), apart from
engine.config to keep that module small; Settings.admin holds them."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator


class AdminSettings(BaseModel):
    """The operator console (/admin). It answers only once an account exists
    (`usdtpay admin add`)."""

    # "host:port" serves the console on a listener of its own (e.g.
    # 127.0.0.1:8001 behind a VPN) and not under the public API; empty: /admin
    # on the API's listener.
    bind: str = ""
    session_hours: float = Field(8, gt=0, le=24 * 7)  # absolute lifetime
    idle_minutes: float = Field(30, gt=0, le=24 * 60)
    login_attempts: int = Field(10, ge=1)  # failed, per source and per username ...
    login_window_seconds: int = Field(900, ge=1)  # ... in this window
    # The Secure cookie flag; browsers accept it on http://127.0.0.1 and
    # localhost too, so only a plain-http remote test setup needs false.
    cookie_secure: bool = True
    # Seals accounts' TOTP secrets in the database (engine.totp_sealing);
    # `usdtpay admin add` refuses to store one without it. Kept out of the
    # database, so a copy of it gives no second factor.
    totp_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _totp_key_long(self) -> AdminSettings:
        if 0 < len(self.totp_key.get_secret_value()) < 16:
            raise ValueError("admin.totp_key: at least 16 characters (e.g. `openssl rand -base64 32`)")
        return self
