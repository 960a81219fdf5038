"""Fixtures for this folder; the helpers themselves live in support.py."""

from tests.integration.watchers.tron.support import (  # noqa: F401
    chain,
    make_reader,
    node,
    nodes,
)
