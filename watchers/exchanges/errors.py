"""Exchange API failures, as the watcher loop and the supplement need them.

Everything here is a `ProviderError`, so nothing about it ever moves a
cursor. `ExchangeAuthError` is the one that retrying will not fix: a wrong
key, secret or passphrase, a bad signature, missing permission, or an IP
the key is not bound to; the operator has to act.
"""

from __future__ import annotations

from watchers.errors import MalformedResponse, ProviderError, RateLimited


class ExchangeError(ProviderError):
    """The exchange did not answer usably; try again after `retry_after`."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, endpoint: str = "", code: str = ""
    ) -> None:
        super().__init__(message, retry_after=retry_after, endpoint=endpoint)
        self.code = code  # the exchange's own error code, when it gave one


class ExchangeRateLimited(ExchangeError, RateLimited):
    """429 or the exchange's rate-limit code: wait `retry_after` seconds."""


class ExchangeBanned(ExchangeRateLimited):
    """The exchange banned our IP or key for a while (Binance 418)."""


class ExchangeMalformed(ExchangeError, MalformedResponse):
    """HTTP 200 whose body is not the documented envelope."""


class ExchangeAuthError(ExchangeError):
    """The exchange refused the key or its signature; retrying will not help."""


class ClockSkew(ExchangeError):
    """Our timestamp is outside the exchange's window: re-sync, then retry once."""
