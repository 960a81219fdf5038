"""Fixtures for this folder; the helpers themselves live in world.py."""

from tests.integration.bridges.world import (  # noqa: F401
    alipay_sim,
    quickpay_sim,
    wechat_sim,
    world,
)
