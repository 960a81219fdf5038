"""Fixtures for this folder; the helpers live in console.py."""

from tests.e2e.admin.console import world  # noqa: F401
from tests.e2e.browser import browser  # noqa: F401
