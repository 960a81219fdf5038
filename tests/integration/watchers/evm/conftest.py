"""Fixtures for this folder; the helpers themselves live in support.py."""

from tests.integration.watchers.evm.support import (  # noqa: F401
    client,
    devchain,
    settings,
    shop,
    token_artifact,
)
