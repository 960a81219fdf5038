"""Fixtures for this folder; the helpers themselves live in world.py and
alipay_certs.py."""

from tests.integration.bridges.alipay_certs import cert_sim, cert_world  # noqa: F401
from tests.integration.bridges.world import (  # noqa: F401
    alipay_sim,
    quickpay_sim,
    wechat_sim,
    world,
)
