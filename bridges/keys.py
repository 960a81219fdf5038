"""Loading RSA keys and certificates from settings.

A setting may hold PEM text, a path to a PEM file, or bare base64 DER (the
form the Alipay console shows). Errors name the setting so an operator
knows which value to fix.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from engine.errors import Unavailable


def _read(value: str, setting: str) -> bytes:
    text = value.strip()
    if not text:
        raise Unavailable(f"{setting} is not set; see the README section on fiat channels")
    if "-----BEGIN" in text:
        return text.encode()
    if _is_file(text):
        return Path(text).expanduser().read_bytes()
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unavailable(f"{setting} is neither PEM text, a readable file, nor base64") from exc


def _is_file(text: str) -> bool:
    # Bare base64 can look like a path whose parts are too long for the file
    # system (ENAMETOOLONG): that is "not a file", not an error.
    try:
        return len(text) < 1024 and Path(text).expanduser().is_file()
    except OSError:
        return False


def load_private_key(value: str, setting: str) -> rsa.RSAPrivateKey:
    data = _read(value, setting)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except ValueError as exc:
        raise Unavailable(f"{setting} does not hold a readable private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Unavailable(f"{setting} must be an RSA private key")
    return key


def load_public_key(value: str, setting: str) -> rsa.RSAPublicKey:
    """A public key, or the public key of a certificate."""
    data = _read(value, setting)
    key: object
    try:
        if b"BEGIN CERTIFICATE" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        elif data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as exc:
        raise Unavailable(f"{setting} does not hold a readable public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise Unavailable(f"{setting} must be an RSA public key")
    return key


def load_certificate(value: str, setting: str) -> tuple[str, rsa.RSAPublicKey]:
    """(serial number as upper-case hex, public key) of a PEM certificate."""
    data = _read(value, setting)
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise Unavailable(f"{setting} does not hold a PEM certificate: {exc}") from exc
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Unavailable(f"{setting} must hold an RSA certificate")
    return format(cert.serial_number, "X"), key


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: what WeChat Pay v3 and Alipay RSA2 use."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # bad base64, wrong length, bad signature: all just "no"
        return False
    return True


def load_certificates(value: str, setting: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (text or path), or one bare base64 DER certificate."""
    data = _read(value, setting)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise Unavailable(f"{setting} does not hold readable certificates: {exc}") from exc
