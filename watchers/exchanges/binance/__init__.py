"""Binance receiving accounts (deposit history and Binance Pay)."""

from watchers.exchanges.binance.client import BinanceClient

__all__ = ["BinanceClient"]
