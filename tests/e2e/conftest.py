"""Fixtures for this folder; the helpers themselves live in browser.py."""

from tests.e2e.browser import (  # noqa: F401
    browser,
    live_server,
)
