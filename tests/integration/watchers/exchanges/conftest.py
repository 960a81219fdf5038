"""Fixtures for this folder; they and the shared helpers live in support.py."""

from tests.integration.watchers.exchanges.support import (  # noqa: F401
    binance,
    binance_sim,
    htx,
    htx_sim,
    okx,
    okx_sim,
)
