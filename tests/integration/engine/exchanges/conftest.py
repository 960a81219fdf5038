"""Fixtures for this folder; the helpers themselves live in support.py."""

from tests.integration.engine.exchanges.support import sims  # noqa: F401
