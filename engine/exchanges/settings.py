"""Settings for exchange receiving accounts (`USDTPAY_EXCHANGES__...`).

Accounts themselves (keys included) live in the database and are added
with `usdtpay exchange add`; these settings say which watchers run and how
they page through the exchange's history.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

Exchange = Literal["okx", "binance", "htx"]


class ExchangeSettings(BaseModel):
    # The exchanges whose watchers `usdtpay run` starts (each watches every
    # enabled account of that exchange).
    enabled: list[Exchange] = []
    poll_seconds: float = Field(10.0, gt=0)
    # Every poll re-reads this much before the cursor: an exchange may list a
    # record a little after its own timestamp. Ids de-duplicate the overlap.
    overlap_minutes: int = Field(10, ge=1, le=24 * 60)
    # A catch-up after downtime reads at most this much history per step.
    step_window_minutes: int = Field(360, ge=1)
    # ... and never further back than this (OKX keeps ~3 months, Binance
    # windows are < 90 days); older gaps need a supplement.
    max_lookback_days: int = Field(30, ge=1, le=89)
    # A record not final yet is re-read until it is, for at most this long.
    pending_hours: int = Field(24, ge=1, le=24 * 30)
    # Share of each documented request budget usdtpay uses (the rest is left
    # to the key owner's other tools).
    budget_share: float = Field(0.5, gt=0, le=1)
    timeout_seconds: float = Field(10.0, gt=0)
    okx_url: str = "https://www.okx.com"
    binance_url: str = "https://api.binance.com"
    htx_url: str = "https://api.huobi.pro"
    binance_sources: list[Literal["deposit", "pay"]] = ["deposit", "pay"]
    # Seals stored API secrets (AES-256-GCM); any text, e.g. `openssl rand -hex 32`.
    # Empty: secrets are stored as given (the database is then as secret as the keys).
    secrets_key: SecretStr = SecretStr("")
