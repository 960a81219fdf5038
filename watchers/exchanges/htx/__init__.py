"""HTX (Huobi) receiving accounts."""

from watchers.exchanges.htx.client import HtxClient

__all__ = ["HtxClient"]
