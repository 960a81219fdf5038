"""The certificates an Alipay open platform issues in public-key-certificate
mode (root bundle, app certificate, Alipay certificate), and the Alipay
signing keys by generation, for the gateway simulator (alipay_sim)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.fiat_keys import cert_pem, issue_certificate, rsa_key

Dn = tuple[tuple[str, str], ...]  # (attribute, value), as encoded: C first, CN last
ATTRIBUTES = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME}
ATTRIBUTES |= {"OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}


def _dn(cn: str, o: str = "Sim Ant Financial", ou: str = "Certification Authority") -> Dn:
    return (("C", "CN"), ("O", o), ("OU", ou), ("CN", cn))


def _name(dn: Dn) -> x509.Name:
    return x509.Name([x509.NameAttribute(ATTRIBUTES[k], v) for k, v in dn])


def _sn(issuer: Dn, serial: int) -> str:
    """The SN as Alipay documents it: issuer written CN first, serial in decimal, MD5."""
    text = ",".join(f"{k}={v}" for k, v in reversed(issuer)) + str(serial)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class SimCertificates:
    app_cert: str  # appCertPublicKey_<app_id>.crt
    alipay_cert: str  # alipayCertPublicKey_RSA2.crt
    alipay_root_cert: str  # alipayRootCert.crt: RSA root, ECDSA root, RSA root
    app_cert_sn: str
    alipay_cert_sn: str
    alipay_root_cert_sn: str  # the two RSA roots only
    renewed_alipay_cert: str  # what rotate_alipay_cert() switches to
    renewed_alipay_cert_sn: str
    # The renewed certificate, same names, serial and key, signed by a root
    # key outside the bundle: only the signature tells it apart.
    forged_renewed_alipay_cert: str


def issue_certificates(app_id: str, seller_id: str, app_key: rsa.RSAPublicKey) -> SimCertificates:
    root0_dn, ec_dn, root1_dn = _dn("Sim Root CA"), _dn("Sim Root CA E1"), _dn("Sim Root CA R1")
    root0_key, root1_key = rsa_key("alipay-root-0"), rsa_key("alipay-root-1")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    serials = [x509.random_serial_number() for _ in range(6)]
    root0 = issue_certificate(
        _name(root0_dn), root0_key.public_key(), issuer_key=root0_key, serial=serials[0], ca=True
    )
    # Signed ecdsa-with-SHA256: in the bundle, left out of the root SN.
    ec_root = issue_certificate(
        _name(ec_dn), ec_key.public_key(), issuer_key=ec_key, serial=serials[1], ca=True
    )
    root1 = issue_certificate(
        _name(root1_dn), root1_key.public_key(), issuer_key=root1_key, serial=serials[2], ca=True
    )

    def leaf(cn: str, key: rsa.RSAPublicKey, serial: int, signer: rsa.RSAPrivateKey = root1_key) -> str:
        cert = issue_certificate(
            _name(_dn(cn, o="Sim Merchant", ou="Alipay")),
            key,
            issuer=_name(root1_dn),
            issuer_key=signer,
            serial=serial,
        )
        return cert_pem(cert)

    alipay_cn = f"支付宝(中国)网络技术有限公司-{seller_id}"

    return SimCertificates(
        app_cert=leaf(f"{seller_id}-{app_id}", app_key, serials[3]),
        alipay_cert=leaf(alipay_cn, alipay_signing_key(0).public_key(), serials[4]),
        alipay_root_cert=cert_pem(root0, ec_root, root1),
        app_cert_sn=_sn(root1_dn, serials[3]),
        alipay_cert_sn=_sn(root1_dn, serials[4]),
        alipay_root_cert_sn=f"{_sn(root0_dn, serials[0])}_{_sn(root1_dn, serials[2])}",
        renewed_alipay_cert=leaf(alipay_cn, alipay_signing_key(1).public_key(), serials[5]),
        renewed_alipay_cert_sn=_sn(root1_dn, serials[5]),
        forged_renewed_alipay_cert=leaf(
            alipay_cn, alipay_signing_key(1).public_key(), serials[5], signer=rsa_key("intruder")
        ),
    )


def alipay_signing_key(generation: int) -> rsa.RSAPrivateKey:
    """Generation 0 is the key public-key mode uses too."""
    return rsa_key("alipay" if generation == 0 else f"alipay-{generation}")
