"""RSA keys for the fiat simulators and the bridges under test, generated
once per test process by name (2048-bit generation is the slow part)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from tests.fakes.fiat_http import new_rsa_key


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """e.g. 'wechat-merchant', 'wechat-platform', 'alipay-app', 'alipay', 'intruder'."""
    return new_rsa_key()


def issue_certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    *,
    issuer: x509.Name | None = None,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    serial: int,
    ca: bool = False,
) -> x509.Certificate:
    """A certificate signed with SHA-256 by `issuer_key` (self-signed when no
    issuer is given), valid from a day ago for a year."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def cert_pem(*certs: x509.Certificate) -> str:
    """PEM text of one certificate or of a bundle, in order."""
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)
