"""Fixtures for this folder; the helpers themselves live in browser.py and evm_world.py."""

from tests.e2e.browser import (  # noqa: F401
    browser,
    live_server,
)
from tests.e2e.evm_world import (  # noqa: F401
    evm_world,
    token_artifact,
)
