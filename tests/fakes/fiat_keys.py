"""RSA keys for the fiat simulators and the bridges under test, generated
once per test process by name (2048-bit generation is the slow part)."""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.fiat_http import new_rsa_key


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """e.g. 'wechat-merchant', 'wechat-platform', 'alipay-app', 'alipay', 'intruder'."""
    return new_rsa_key()
