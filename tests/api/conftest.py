"""Fixtures for this folder; the helpers themselves live in support.py."""

from tests.api.support import (  # noqa: F401
    client,
)
