"""Alipay certificate SNs (app_cert_sn, alipay_cert_sn, alipay_root_cert_sn)
and loading the certificate-mode settings."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from bridges.alipay_certs import cert_sn, issuer_text, load_alipay_certificates, root_cert_sn
from bridges.keys import load_certificates
from engine.config import AlipaySettings
from engine.errors import Unavailable
from tests.fakes.fiat_http import private_pem
from tests.fakes.fiat_keys import cert_pem, issue_certificate, rsa_key

# Real certificates Alipay issued (long expired; public by nature), with the
# SNs Alipay's own Node.js SDK expects for them in its test suite
# (alipay/alipay-sdk-nodejs-all, test/antcertutil.test.ts).
ALIPAY_ISSUED_APP_CERT = """\
-----BEGIN CERTIFICATE-----
MIIEsTCCA5mgAwIBAgIQICAFGGIDnUCQiXuk1RwhJjANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UE
BhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNVBAsMF0NlcnRpZmljYXRpb24gQXV0
aG9yaXR5MTkwNwYDVQQDDDBBbnQgRmluYW5jaWFsIENlcnRpZmljYXRpb24gQXV0aG9yaXR5IENs
YXNzIDEgUjEwHhcNMjAwNTE4MDUyODQ3WhcNMjIwNTE4MDUyODQ3WjB5MQswCQYDVQQGEwJDTjEt
MCsGA1UECgwk5p2t5bee54SV5pet5L+h5oGv5oqA5pyv5pyJ6ZmQ5YWs5Y+4MQ8wDQYDVQQLDAZB
bGlwYXkxKjAoBgNVBAMMITIwODg4MzEyMDQ2NTkyMTctMjAyMTAwMTE2MTY4Mzc3NDCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAJxb57A3/QC/2oDPcZrqWKPs/2qjVlY/x00s3OWa0Cnh
ftO/4tk33cuVEwaQW7b/KbeyfmZ7p8SoxJ9UBDASDACq4TGgR0hFFIIT1FCjeUe8owXyaQsjbKL/
6woXKHHOAaNCY42d9uKZ0ZAyeyX4gF+eEWVmobkDjUAYi6FdL/zyogbrKrYFibmKbTjuVocvlZN2
2R6CEJHCSnc3lw+Ya9NVe7DDx05B8MUQMPBZe9ZhvQb2D75bniV1i4clv/lezKdWyT//d/dIpGVx
4tt92bMwt//UeFG2jLTWJG6h9bv6RCp4O7NFwE4IVMsJhoFTQKEatBx5wsfbYUC3Ivuo2/MCAwEA
AaOCASkwggElMB8GA1UdIwQYMBaAFHEH4gRhFuTl8mXrMQ/J4PQ8mtWRMB0GA1UdDgQWBBSXl4+T
1U+ja4hCST3DlTQAAKQ/tTBABgNVHSAEOTA3MDUGB2CBHAFuAQEwKjAoBggrBgEFBQcCARYcaHR0
cDovL2NhLmFsaXBheS5jb20vY3BzLnBkZjAOBgNVHQ8BAf8EBAMCBsAwLwYDVR0fBCgwJjAkoCKg
IIYeaHR0cDovL2NhLmFsaXBheS5jb20vY3JsNDEuY3JsMGAGCCsGAQUFBwEBBFQwUjAoBggrBgEF
BQcwAoYcaHR0cDovL2NhLmFsaXBheS5jb20vY2E2LmNlcjAmBggrBgEFBQcwAYYaaHR0cDovL2Nh
LmFsaXBheS5jb206ODM0MC8wDQYJKoZIhvcNAQELBQADggEBALeeTrnXKUYapQ/ig9MB4h9KoP3g
27BVJwOxYaIqWxm6iDvOr/Ju+/8QKygnH6dM3+6+pShCdHsCFaSAQM4gUwxS4F1PcISjKs3LQ6Q8
eWHZMV9w292DOzFRNUoMmgI2yAGOW6DxmnNDFxbVjzcABsrjOmoqso5c4y82K7cl9AfvTm+ThOC3
wPQqTiLOZ6xoSL8pO4V+BkPrJTKJNqX0cVPm+QLP+TC411GTjrmz2nv1OPEVSTey5HaB6HWQeDz7
hGnbipZswfCRHRiu42+4pQZw+3rQ6uRzSPMpxgk7RaBWexybrqRk6ZfyXMcxJvNDWWk/EQlzLL8S
RuJzW8kcFrE=
-----END CERTIFICATE-----
"""
ALIPAY_ISSUED_APP_CERT_SN = "866efef280dec9137a87d047ac446315"
ALIPAY_ISSUED_ALIPAY_CERT = """\
-----BEGIN CERTIFICATE-----
MIIDsjCCApqgAwIBAgIQICAFFOY8L+BNU4cW/iE1izANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UE
BhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNVBAsMF0NlcnRpZmljYXRpb24gQXV0
aG9yaXR5MTkwNwYDVQQDDDBBbnQgRmluYW5jaWFsIENlcnRpZmljYXRpb24gQXV0aG9yaXR5IENs
YXNzIDIgUjEwHhcNMjAwNTE0MTQ0MjAxWhcNMjIwNTE0MTQ0MjAxWjCBkjELMAkGA1UEBhMCQ04x
LTArBgNVBAoMJOadreW3nueEleaXreS/oeaBr+aKgOacr+aciemZkOWFrOWPuDEPMA0GA1UECwwG
QWxpcGF5MUMwQQYDVQQDDDrmlK/ku5jlrp0o5Lit5Zu9Kee9kee7nOaKgOacr+aciemZkOWFrOWP
uC0yMDg4ODMxMjA0NjU5MjE3MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhoVesfcG
vUv1XvUndmX0rmSZ/2posJBCooySbSVFpV79RtHMzrVz2aKkC3WvOXeT5iNeQK4mK8gp3vNkWrHT
kQGx5BcmkeO1WS384CQde7dAS0gmxeFs5bs+cCQqV2A2c2R9/5rJMtFtp1Ot/rIiMBUn6Ei0Uozt
M7AneavqQEzSwYlCKNhPFFtHCiz7u4O5R9CIyvUmYr+zpem2HXBN9ygPAZ0aXBQipGbc45+G07ZC
NsmY4hV/Igya1aBf+Ye8p10Ew8uBBri0sIknhSC2LqKKy2IH1fO6q1d1jhN240QRHvbpRNv60kAf
ZsEulBASBrCMBi49NiJyr5nre7SNywIDAQABoxIwEDAOBgNVHQ8BAf8EBAMCA/gwDQYJKoZIhvcN
AQELBQADggEBAEx9T99X9NhDZYXDftc0wH0Tc5OVRIqWTYBN/KEP1df+Ix5djcDrUUcXJMvprMw3
frUymgJsf7YUgZ1+dMz+Gup5dCH3qUu/5c9R3d8senb4wCiYR2FpJ3WGIONwInNQTs04a2wM4JIM
CdCYWC/H1hdvNl9V4pYeMckTruSnPmJlL6E/pNF5AuIYP5AswZSOhASIQzt5Rr6QDz/YVGi2/6al
5Bknm2f9dmsZbWDapKDrlJ3Ny2B0SZ0H47Y7lRlaVNe+Jj1jsrv16ONk1XLt71jyWyPAIlITLcyX
mMtT1IympPFRxBIngEImjGt6d1VUtkf61Cjpr0bRRDoZXvWRv5U=
-----END CERTIFICATE-----
"""
ALIPAY_ISSUED_ALIPAY_CERT_SN = "7513daaaa48aa3ba2e4018d84402479c"

CA_DN = [
    (NameOID.COUNTRY_NAME, "CN"),
    (NameOID.ORGANIZATION_NAME, "Test Org"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
    (NameOID.COMMON_NAME, "Test Root R1"),
]


def name(attributes: list[tuple[x509.ObjectIdentifier, str]]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def rsa_root(cn: str, key_name: str, serial: int) -> x509.Certificate:
    key = rsa_key(key_name)
    subject = name([*CA_DN[:3], (NameOID.COMMON_NAME, cn)])
    return issue_certificate(subject, key.public_key(), issuer_key=key, serial=serial, ca=True)


def ecdsa_root(serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name([*CA_DN[:3], (NameOID.COMMON_NAME, "Test Root E1")])
    return issue_certificate(subject, key.public_key(), issuer_key=key, serial=serial, ca=True)


def app_cert(serial: int = 2024061800012345) -> x509.Certificate:
    issuer_key = rsa_key("alipay-root-1")
    subject = name([(NameOID.COMMON_NAME, "2088621955040001-2021000118600001")])
    key = rsa_key("alipay-app").public_key()
    return issue_certificate(subject, key, issuer=name(CA_DN), issuer_key=issuer_key, serial=serial)


def test_the_sns_of_certificates_alipay_issued_match_alipays_sdk() -> None:
    app = x509.load_pem_x509_certificate(ALIPAY_ISSUED_APP_CERT.encode())
    alipay = x509.load_pem_x509_certificate(ALIPAY_ISSUED_ALIPAY_CERT.encode())
    assert issuer_text(app) == (
        "CN=Ant Financial Certification Authority Class 1 R1,OU=Certification Authority,O=Ant Financial,C=CN"
    )
    assert cert_sn(app) == ALIPAY_ISSUED_APP_CERT_SN
    assert cert_sn(alipay) == ALIPAY_ISSUED_ALIPAY_CERT_SN


def test_sn_is_md5_of_the_issuer_written_cn_first_then_the_decimal_serial() -> None:
    # Worked by hand: the issuer is encoded C, O, OU, CN and written back to front.
    expected = hashlib.md5(
        b"CN=Test Root R1,OU=Certification Authority,O=Test Org,C=CN2024061800012345"
    ).hexdigest()
    assert cert_sn(app_cert()) == expected
    assert len(expected) == 32 and expected == expected.lower()


def test_root_sn_joins_the_rsa_roots_and_skips_the_others() -> None:
    first, second = rsa_root("Test Root", "alipay-root-0", 11), rsa_root("Test Root R1", "alipay-root-1", 12)
    bundle = [first, ecdsa_root(13), second]
    assert bundle[1].signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    expected_first = hashlib.md5(b"CN=Test Root,OU=Certification Authority,O=Test Org,C=CN11").hexdigest()

    assert root_cert_sn(bundle) == f"{expected_first}_{cert_sn(second)}"
    assert root_cert_sn(bundle[1:2]) == ""


def test_a_bundle_loads_from_pem_text_a_path_and_one_bare_base64_certificate(tmp_path: Path) -> None:
    bundle = [rsa_root("Test Root", "alipay-root-0", 11), ecdsa_root(13)]
    path = tmp_path / "alipayRootCert.crt"
    path.write_text(cert_pem(*bundle))
    for value in (cert_pem(*bundle), str(path)):
        assert load_certificates(value, "SETTING") == bundle
    der = base64.b64encode(bundle[0].public_bytes(Encoding.DER)).decode()
    assert load_certificates(der, "SETTING") == bundle[:1]
    with pytest.raises(Unavailable, match="USDTPAY_X__CERT"):
        load_certificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "USDTPAY_X__CERT")


def settings(**overrides: str) -> AlipaySettings:
    values = {
        "app_id": "2021000118600001",
        "app_private_key": SecretStr(private_pem(rsa_key("alipay-app"))),
        "key_mode": "certificate",
        "app_cert": cert_pem(app_cert()),
        "alipay_cert": ALIPAY_ISSUED_ALIPAY_CERT,
        "alipay_root_cert": cert_pem(rsa_root("Test Root R1", "alipay-root-1", 12), ecdsa_root(13)),
    }
    return AlipaySettings.model_validate(values | overrides)


def test_loaded_settings_give_the_sns_and_the_alipay_key() -> None:
    loaded = load_alipay_certificates(settings(), rsa_key("alipay-app"))
    assert loaded.app_cert_sn == cert_sn(app_cert())
    assert loaded.alipay_cert_sn == ALIPAY_ISSUED_ALIPAY_CERT_SN
    assert "_" not in loaded.alipay_root_cert_sn and len(loaded.alipay_root_cert_sn) == 32
    alipay = x509.load_pem_x509_certificate(ALIPAY_ISSUED_ALIPAY_CERT.encode())
    assert loaded.alipay_key.public_numbers() == alipay.public_key().public_numbers()


def test_a_certificate_file_with_its_issuer_gives_the_end_entity_certificate() -> None:
    # alipayCertPublicKey_RSA2.crt as issued carries its CA certificate too.
    root = rsa_root("Test Root R1", "alipay-root-1", 12)
    for chain in ([app_cert(), root], [root, app_cert()]):
        loaded = load_alipay_certificates(settings(app_cert=cert_pem(*chain)), rsa_key("alipay-app"))
        assert loaded.app_cert_sn == cert_sn(app_cert())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"app_cert": ALIPAY_ISSUED_APP_CERT}, "APP_CERT does not hold the public key of"),
        ({"app_cert": ""}, "USDTPAY_ALIPAY__APP_CERT is not set"),
        ({"alipay_cert": cert_pem(ecdsa_root(5))}, "ALIPAY_CERT must hold an RSA certificate"),
        ({"alipay_root_cert": cert_pem(ecdsa_root(5))}, "ALIPAY_ROOT_CERT holds no RSA certificate"),
        ({"app_cert": cert_pem(app_cert(), app_cert(7))}, "holds 2 certificates that are not one chain"),
    ],
)
def test_wrong_certificate_settings_fail_at_start_with_the_settings_name(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(Unavailable, match=message):
        load_alipay_certificates(settings(**overrides), rsa_key("alipay-app"))
