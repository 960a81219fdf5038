"""Fixtures for this folder; the helpers themselves live in support.py."""

from tests.integration.watchers.exchanges.support import (  # noqa: F401
    binance_sim,
    htx_sim,
    okx_sim,
)
