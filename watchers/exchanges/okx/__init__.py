"""OKX v5 receiving accounts."""

from watchers.exchanges.okx.client import OkxClient

__all__ = ["OkxClient"]
