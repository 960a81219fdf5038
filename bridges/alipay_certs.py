"""Alipay public-key-certificate mode (公钥证书模式).

In certificate mode every request names the app certificate and the Alipay
root bundle by their "SN", and every response names the Alipay certificate
that signed it. An SN is Alipay's own fingerprint, not the X.509 serial:
the lower-case hex MD5 of the issuer name as Java's
`X500Principal.getName()` renders it (RFC 2253: RDNs last to first,
`CN=…,OU=…,O=…,C=…`) followed by the serial number in decimal. The root SN
joins with `_` the SNs of the bundle's RSA certificates (SHA-1 or SHA-256);
the others (ECDSA, SM2) are left out, as Alipay's SDKs do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from bridges.keys import load_certificates
from engine.config import AlipaySettings
from engine.errors import Unavailable

ROOT_SN_ALGORITHMS = frozenset({SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_SHA256})

APP_CERT_SETTING = "USDTPAY_ALIPAY__APP_CERT"
ALIPAY_CERT_SETTING = "USDTPAY_ALIPAY__ALIPAY_CERT"
ROOT_CERT_SETTING = "USDTPAY_ALIPAY__ALIPAY_ROOT_CERT"


def issuer_text(cert: x509.Certificate) -> str:
    # cryptography's RFC 4514 rendering is RFC 2253's for the attribute
    # types Alipay's CAs use (C, O, OU, CN), including the reversed order.
    return cert.issuer.rfc4514_string()


def cert_sn(cert: x509.Certificate) -> str:
    """app_cert_sn / alipay_cert_sn of one certificate."""
    # A name Alipay looks certificates up by, not a security check.
    text = issuer_text(cert) + str(cert.serial_number)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def counts_for_root_sn(cert: x509.Certificate) -> bool:
    return cert.signature_algorithm_oid in ROOT_SN_ALGORITHMS


def root_cert_sn(bundle: Sequence[x509.Certificate]) -> str:
    """alipay_root_cert_sn of the root bundle (alipayRootCert.crt)."""
    return "_".join(cert_sn(cert) for cert in bundle if counts_for_root_sn(cert))


@dataclass(frozen=True)
class AlipayCertificates:
    app_cert_sn: str
    alipay_root_cert_sn: str
    alipay_cert_sn: str  # the Alipay certificate responses must name
    alipay_key: rsa.RSAPublicKey  # verifies responses and notifications


def _one(value: str, setting: str) -> x509.Certificate:
    certs = load_certificates(value, setting)
    if len(certs) != 1:
        raise Unavailable(f"{setting} must hold exactly one certificate, found {len(certs)}")
    return certs[0]


def _same_key(cert: x509.Certificate, private_key: rsa.RSAPrivateKey) -> bool:
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*der) == private_key.public_key().public_bytes(*der)


def load_alipay_certificates(
    settings: AlipaySettings, app_private_key: rsa.RSAPrivateKey
) -> AlipayCertificates:
    """Read the three certificate settings; a wrong file fails here, at start-up,
    with the setting's name rather than as a gateway error on the first payment."""
    app_cert = _one(settings.app_cert, APP_CERT_SETTING)
    if not _same_key(app_cert, app_private_key):
        raise Unavailable(
            f"{APP_CERT_SETTING} does not hold the public key of USDTPAY_ALIPAY__APP_PRIVATE_KEY; "
            "use the appCertPublicKey_<app id>.crt issued for that key"
        )
    alipay_cert = _one(settings.alipay_cert, ALIPAY_CERT_SETTING)
    alipay_key = alipay_cert.public_key()
    if not isinstance(alipay_key, rsa.RSAPublicKey):
        raise Unavailable(
            f"{ALIPAY_CERT_SETTING} must hold an RSA certificate (alipayCertPublicKey_RSA2.crt)"
        )
    root_sn = root_cert_sn(load_certificates(settings.alipay_root_cert, ROOT_CERT_SETTING))
    if not root_sn:
        raise Unavailable(f"{ROOT_CERT_SETTING} holds no RSA certificate; use alipayRootCert.crt")
    return AlipayCertificates(
        app_cert_sn=cert_sn(app_cert),
        alipay_root_cert_sn=root_sn,
        alipay_cert_sn=cert_sn(alipay_cert),
        alipay_key=alipay_key,
    )
