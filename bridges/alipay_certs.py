"""Alipay public-key-certificate mode (公钥证书模式).

In certificate mode every request names the app certificate and the Alipay
root bundle by their "SN", and every response names the Alipay certificate
that signed it. An SN is Alipay's own fingerprint, not the X.509 serial:
the lower-case hex MD5 of the issuer name as Java's
`X500Principal.getName()` renders it (RFC 2253: RDNs last to first,
`CN=…,OU=…,O=…,C=…`) followed by the serial number in decimal. The root SN
joins with `_` the SNs of the bundle's RSA certificates (SHA-1 or SHA-256);
the others (ECDSA, SM2) are left out, as Alipay's SDKs do.

When Alipay renews its certificate, answers name an `alipay_cert_sn` we do
not hold. Like Alipay's own SDKs, the bridge then downloads that certificate
(`alipay.open.app.alipaycert.download`) and trusts it only if it chains to
the configured root bundle, is valid now, is RSA and has the SN asked for.
Trust rests on that chain, not on the download's answer: the answer is
signed with the very certificate it carries. Downloaded certificates live in
memory only; the configured one stays the primary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from bridges.keys import load_certificates
from engine.clock import Clock
from engine.config import AlipaySettings
from engine.errors import Unavailable
from engine.fiat.channel import ChannelError

log = logging.getLogger("usdtpay.bridges.alipay")

ROOT_SN_ALGORITHMS = frozenset({SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_SHA256})

APP_CERT_SETTING = "USDTPAY_ALIPAY__APP_CERT"
ALIPAY_CERT_SETTING = "USDTPAY_ALIPAY__ALIPAY_CERT"
ROOT_CERT_SETTING = "USDTPAY_ALIPAY__ALIPAY_ROOT_CERT"
RENEW_ALIPAY_CERT = (
    "download the new alipayCertPublicKey_RSA2.crt from the Alipay open platform "
    f"(开发设置 → 接口加签方式) and update {ALIPAY_CERT_SETTING}"
)
CHANNEL = "alipay"
# Answers come from the gateway, but a broken or hostile path could name a
# new SN in every answer: without a pause each would cost a download.
DOWNLOAD_COOLDOWN = timedelta(seconds=60)
# Leaf, at most a few intermediates, root: deeper is not an Alipay chain.
MAX_CHAIN = 4


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
    alipay_cert_sn: str  # the configured Alipay certificate, the primary
    alipay_key: rsa.RSAPublicKey  # its key
    alipay_roots: tuple[x509.Certificate, ...]  # what a downloaded certificate must chain to


def _entity(value: str, setting: str) -> x509.Certificate:
    """The end-entity certificate of a file that may also carry the CA
    certificates that issued it (Alipay's alipayCertPublicKey_RSA2.crt holds
    the chain): the one certificate that issued none of the others."""
    certs = load_certificates(value, setting)
    if len(certs) == 1:
        return certs[0]
    issuers = {other.issuer.public_bytes() for other in certs}
    leaves = [cert for cert in certs if cert.subject.public_bytes() not in issuers]
    if len(leaves) != 1:
        raise Unavailable(
            f"{setting} holds {len(certs)} certificates that are not one chain; "
            "use the certificate file exactly as the Alipay open platform issued it"
        )
    return leaves[0]


def _same_key(cert: x509.Certificate, private_key: rsa.RSAPrivateKey) -> bool:
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*der) == private_key.public_key().public_bytes(*der)


def load_alipay_certificates(
    settings: AlipaySettings, app_private_key: rsa.RSAPrivateKey
) -> AlipayCertificates:
    """Read the three certificate settings; a wrong file fails here, at start-up,
    with the setting's name rather than as a gateway error on the first payment."""
    app_cert = _entity(settings.app_cert, APP_CERT_SETTING)
    if not _same_key(app_cert, app_private_key):
        raise Unavailable(
            f"{APP_CERT_SETTING} does not hold the public key of USDTPAY_ALIPAY__APP_PRIVATE_KEY; "
            "use the appCertPublicKey_<app id>.crt issued for that key"
        )
    alipay_cert = _entity(settings.alipay_cert, ALIPAY_CERT_SETTING)
    alipay_key = alipay_cert.public_key()
    if not isinstance(alipay_key, rsa.RSAPublicKey):
        raise Unavailable(
            f"{ALIPAY_CERT_SETTING} must hold an RSA certificate (alipayCertPublicKey_RSA2.crt)"
        )
    roots = load_certificates(settings.alipay_root_cert, ROOT_CERT_SETTING)
    root_sn = root_cert_sn(roots)
    if not root_sn:
        raise Unavailable(f"{ROOT_CERT_SETTING} holds no RSA certificate; use alipayRootCert.crt")
    return AlipayCertificates(
        app_cert_sn=cert_sn(app_cert),
        alipay_root_cert_sn=root_sn,
        alipay_cert_sn=cert_sn(alipay_cert),
        alipay_key=alipay_key,
        alipay_roots=tuple(roots),
    )


# -- a downloaded (renewed) Alipay certificate ------------------------------


def _refused(code: str, message: str) -> ChannelError:
    return ChannelError(CHANNEL, code, message, hint=RENEW_ALIPAY_CERT)


def parse_download(content: object, sn: str) -> list[x509.Certificate]:
    """The certificates of `alipay_cert_content`: base64 of the PEM file
    (the leaf first, then any intermediate), as Alipay's SDKs read it."""
    if not isinstance(content, str) or not content.strip():
        raise _refused("bad_response", f"download of Alipay certificate {sn!r} holds no alipay_cert_content")
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]  # DER, in case Alipay ever sends it bare
    except (binascii.Error, ValueError) as exc:
        raise _refused(
            "bad_response", f"downloaded Alipay certificate {sn!r} is not a base64 certificate"
        ) from exc
    if not certs:
        raise _refused("bad_response", f"download of Alipay certificate {sn!r} holds no certificate")
    return certs


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)  # issuer name and signature
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chains_to_roots(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
) -> str | None:
    """None if `leaf` is signed by one of `roots`, directly or through the
    downloaded intermediates (each a valid CA); else what is wrong."""
    cert = leaf
    for _ in range(MAX_CHAIN):
        root = next((r for r in roots if _issued_by(cert, r)), None)
        if root is not None:
            if not _valid_at(root, now):
                return f"its root {root.subject.rfc4514_string()[:120]!r} is not valid now"
            return None
        issuer = next((c for c in intermediates if c is not cert and _issued_by(cert, c)), None)
        if issuer is None:
            return (
                f"it is not issued by a certificate of {ROOT_CERT_SETTING} "
                f"(issuer {cert.issuer.rfc4514_string()[:120]!r})"
            )
        if not _is_ca(issuer) or not _valid_at(issuer, now):
            return f"its intermediate {issuer.subject.rfc4514_string()[:120]!r} is not a valid CA certificate"
        cert = issuer
    return "its chain is longer than an Alipay chain"


def trusted_key(
    certs: Sequence[x509.Certificate], sn: str, roots: Sequence[x509.Certificate], now: datetime
) -> rsa.RSAPublicKey:
    """The key of a downloaded certificate asked for by `sn`, if it may be
    trusted; else a `bad_signature` ChannelError saying which check failed."""
    prefix = f"downloaded Alipay certificate {sn!r} not trusted: "
    # The file lists the leaf first; look it up by SN rather than rely on that.
    leaf = next((cert for cert in certs if cert_sn(cert) == sn), None)
    if leaf is None:
        got = ", ".join(repr(cert_sn(cert)) for cert in certs[:4])
        raise _refused("bad_signature", prefix + f"its SN is {got}, not the one asked for")
    intermediates = [cert for cert in certs if cert is not leaf]
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _refused("bad_signature", prefix + "it is not an RSA certificate")
    if not _valid_at(leaf, now):
        valid = f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
        raise _refused("bad_signature", prefix + f"it is not valid now (valid {valid})")
    problem = _chains_to_roots(leaf, intermediates, roots, now)
    if problem is not None:
        raise _refused("bad_signature", prefix + problem)
    return key


# What the channel calls to download: SN → `alipay_cert_content`. Raises
# ChannelError when the gateway cannot be reached or answers an error.
Download = Callable[[str], Awaitable[object]]


@dataclass(frozen=True)
class _Failure:
    at: datetime
    error: ChannelError


class AlipayCertStore:
    """Trusted Alipay certificate keys by SN: the configured one (primary)
    and any downloaded after a renewal. Old ones stay: answers and
    notifications signed with them may still arrive for a while."""

    def __init__(self, certs: AlipayCertificates, *, download: Download, clock: Clock) -> None:
        self.keys: dict[str, rsa.RSAPublicKey] = {certs.alipay_cert_sn: certs.alipay_key}
        self.downloads = 0  # download calls made, for logs and tests
        self._roots = certs.alipay_roots
        self._download = download
        self._clock = clock
        self._failures: dict[str, _Failure] = {}  # SN → its last failed download
        # One download at a time; callers waiting for it use its outcome.
        self._lock = asyncio.Lock()

    async def key_for(self, sn: str) -> rsa.RSAPublicKey:
        """The key of certificate `sn`, downloading it first if we do not
        hold it (at most once a minute per SN)."""
        key = self.keys.get(sn)
        if key is not None:
            return key
        async with self._lock:
            key = self.keys.get(sn)
            if key is not None:  # the download this task waited for brought it
                return key
            now = self._clock.now()
            last = self._failures.get(sn)
            if last is not None and now - last.at < DOWNLOAD_COOLDOWN:
                raise self._not_retried(sn, last.error)
            self._forget_old_failures(now)
            try:
                key = await self._learn(sn)
            except ChannelError as exc:
                self._failures[sn] = _Failure(now, exc)
                log.warning("alipay certificate %s not learned: %s", sn[:64], exc.message)
                raise
            self.keys[sn] = key
            # Memory only: a restart downloads it again until the setting holds it.
            log.info(
                "alipay certificate %s downloaded and trusted (kept in memory only; put the new "
                "alipayCertPublicKey_RSA2.crt into %s); trusted now: %s",
                sn,
                ALIPAY_CERT_SETTING,
                sorted(self.keys),
            )
            return key

    async def _learn(self, sn: str) -> rsa.RSAPublicKey:
        self.downloads += 1
        try:
            content = await self._download(sn)
        except ChannelError as exc:
            if exc.provider_code in ("timeout", "unreachable") or exc.provider_code.startswith("http_"):
                raise  # the network, not the certificate: keep what the caller can retry on
            raise _refused(
                "bad_signature",
                f"answer signed with Alipay certificate {sn!r}, which is not configured, and its "
                f"download was refused: {exc.provider_code} {exc.provider_message}".rstrip(),
            ) from exc
        return trusted_key(parse_download(content, sn), sn, self._roots, self._clock.now())

    def _not_retried(self, sn: str, failure: ChannelError) -> ChannelError:
        return _refused(
            "bad_signature",
            f"answer signed with Alipay certificate {sn!r}, which is not trusted; its download "
            f"failed less than {DOWNLOAD_COOLDOWN.seconds} s ago and is not retried yet; "
            f"it failed with: {failure.provider_message}",
        )

    def _forget_old_failures(self, now: datetime) -> None:
        # Keeps the map as small as the SNs that failed within the last minute.
        for sn in [sn for sn, f in self._failures.items() if now - f.at >= DOWNLOAD_COOLDOWN]:
            del self._failures[sn]
