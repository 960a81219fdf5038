"""Build an exchange reader from a stored account or from fresh credentials.

`usdtpay exchange add` checks a key before it is stored; the watchers and
the supplement read stored accounts. Secrets are unsealed here, handed to
the client, and never logged.
"""

from __future__ import annotations

from engine.config import Settings
from engine.exchanges.accounts import Credentials, credentials_of
from engine.exchanges.ports import ExchangeReader
from engine.models import ExchangeAccount
from watchers.exchanges.binance import BinanceClient
from watchers.exchanges.htx import HtxClient
from watchers.exchanges.okx import OkxClient


def reader_for(exchange: str, credentials: Credentials, settings: Settings) -> ExchangeReader:
    s = settings.exchanges
    timeout, share = s.timeout_seconds, s.budget_share
    if exchange == "okx":
        return OkxClient(
            api_key=credentials.api_key,
            secret=credentials.secret,
            passphrase=credentials.passphrase,
            base_url=s.okx_url,
            timeout_s=timeout,
            share=share,
        )
    if exchange == "binance":
        return BinanceClient(
            api_key=credentials.api_key,
            secret=credentials.secret,
            base_url=s.binance_url,
            sources=tuple(s.binance_sources),
            timeout_s=timeout,
            share=share,
        )
    if exchange == "htx":
        return HtxClient(
            access_key=credentials.api_key,
            secret=credentials.secret,
            base_url=s.htx_url,
            timeout_s=timeout,
            share=share,
        )
    raise ValueError(f"unknown exchange {exchange!r}")


def reader_for_account(account: ExchangeAccount, settings: Settings) -> ExchangeReader:
    key = settings.exchanges.secrets_key.get_secret_value()
    return reader_for(account.exchange, credentials_of(account, key), settings)
