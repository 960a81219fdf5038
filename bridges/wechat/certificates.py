"""WeChat Pay platform certificates in certificate mode: the configured PEMs
plus the list downloaded from `GET /v3/certificates`, kept fresh.

Trust: a downloaded list is used only if its response is signed by a
certificate we already trust, or, on the first download (nothing trusted
yet), by one of the certificates in that very list. That bootstrap is
WeChat's documented way: each certificate is AES-256-GCM encrypted with the
secret APIv3 key, so a forged list carries no certificate that decrypts.
WeChat lists a new certificate 24 h before it signs with it, so refreshing
every `certificate_refresh_seconds` (12 h) learns it from a list signed by
the old one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bridges.wechat.crypto import PlatformVerifier, UnknownSerial, decrypt_resource
from engine.clock import CHINA, Clock
from engine.fiat.channel import CallbackRejected, ChannelError

log = logging.getLogger("usdtpay.bridges.wechat")

CHANNEL = "wechat"
# Callbacks are unauthenticated until verified: without a pause, a stream of
# made-up serials would make us call WeChat once per callback.
UNKNOWN_SERIAL_COOLDOWN = timedelta(seconds=60)
# A scheduled refresh that failed is tried again this soon, not a whole
# interval later (the certificates we hold keep working meanwhile).
RETRY_AFTER = timedelta(seconds=60)
APIV3_HINT = "check USDTPAY_WECHAT__APIV3_KEY: it must be the APIv3 key set under 账户中心 → API安全"
TRUST_HINT = (
    "nothing from this download was trusted; retry later, and check that nothing between us "
    "and WeChat alters answers"
)

Fetch = Callable[[], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Listed:
    """One downloaded certificate: its key and when we stop trusting it."""

    key: rsa.RSAPublicKey
    expires: datetime


def _bad(code: str, message: str, hint: str) -> ChannelError:
    return ChannelError(CHANNEL, code, message, hint=hint)


def _same_serial(listed: str, cert: x509.Certificate) -> bool:
    # WeChat writes serials as upper-case hex; a leading zero digit may or
    # may not be written, so that alone does not make two serials differ.
    return listed.upper().lstrip("0") == format(cert.serial_number, "X")


def _listed_expiry(value: object) -> datetime | None:
    """expire_time of a list entry (RFC 3339, China time); None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)


def _decrypt(serial: str, resource: Mapping[str, object], apiv3_key: bytes) -> x509.Certificate:
    try:
        pem = decrypt_resource(apiv3_key, resource)
    except CallbackRejected as exc:
        raise _bad(
            "bad_signature", f"certificate {serial[:64]!r} in the list does not decrypt", APIV3_HINT
        ) from exc
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise _bad(
            "bad_response", f"certificate {serial[:64]!r} is not a PEM certificate", TRUST_HINT
        ) from exc


def read_list(body: bytes, apiv3_key: bytes, now: datetime) -> dict[str, Listed]:
    """serial → certificate for every unexpired entry of a /v3/certificates
    answer. Any entry that does not decrypt or names another serial than its
    certificate's refuses the whole list."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _bad("bad_response", "certificate list is not JSON", TRUST_HINT) from exc
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _bad("bad_response", "answer holds no certificate list", TRUST_HINT)
    listed: dict[str, Listed] = {}
    for entry in entries:
        serial = entry.get("serial_no") if isinstance(entry, dict) else None
        resource = entry.get("encrypt_certificate") if isinstance(entry, dict) else None
        if not isinstance(serial, str) or not serial or not isinstance(resource, dict):
            raise _bad("bad_response", "list entry lacks serial_no / encrypt_certificate", TRUST_HINT)
        cert = _decrypt(serial, resource, apiv3_key)
        if not _same_serial(serial, cert):
            raise _bad(
                "bad_signature",
                f"list entry {serial[:64]!r} holds certificate {format(cert.serial_number, 'X')!r}",
                TRUST_HINT,
            )
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise _bad("bad_response", f"certificate {serial[:64]!r} is not RSA", TRUST_HINT)
        # WeChat moves a retiring certificate's expire_time forward of the
        # date inside the PEM; whichever comes first counts.
        expires = cert.not_valid_after_utc
        retired = _listed_expiry(entry.get("expire_time"))
        if retired is not None and retired < expires:
            expires = retired
        if expires > now:  # WeChat keeps listing a retired certificate for a while
            listed[serial.upper()] = Listed(key, expires)
    if not listed:
        raise _bad("bad_response", "every certificate in the list has expired", "retry later")
    return listed


def check_signed(
    headers: Mapping[str, str], body: bytes, keys: Mapping[str, rsa.RSAPublicKey], *, first: bool
) -> None:
    """The list answer must be signed by one of `keys`: the trusted
    certificates, or on the first download the listed ones."""
    try:
        # check_time off, as for every response: we just asked for it.
        PlatformVerifier(keys=keys, tolerance_seconds=1).verify(headers, body, now=0, check_time=False)
    except UnknownSerial as exc:
        if first:
            message = f"certificate list is signed with serial {exc.serial[:64]!r}, which it does not contain"
            raise _bad("bad_signature", message, TRUST_HINT) from exc
        message = f"certificate list is signed with serial {exc.serial[:64]!r}, which we do not trust yet"
        hint = (
            "if WeChat has switched to a new platform certificate, add its PEM to "
            "USDTPAY_WECHAT__PLATFORM_CERTIFICATES (or, with none configured, restart to download afresh)"
        )
        raise _bad("bad_signature", message, hint) from exc
    except CallbackRejected as exc:
        raise _bad("bad_signature", f"certificate list not trusted: {exc.message}", TRUST_HINT) from exc


class CertificateStore:
    """Trusted platform keys by serial. `keys` is updated in place, so a
    PlatformVerifier built on it always sees the current set."""

    def __init__(
        self,
        *,
        configured: Mapping[str, rsa.RSAPublicKey],
        apiv3_key: bytes,
        fetch: Fetch,
        clock: Clock,
        refresh_seconds: int,
    ) -> None:
        self.keys: dict[str, rsa.RSAPublicKey] = dict(configured)
        self.downloads = 0  # completed downloads, for logs and tests
        self._configured = dict(configured)
        self._downloaded: dict[str, Listed] = {}
        self._apiv3_key = apiv3_key
        self._fetch = fetch
        self._clock = clock
        self._interval = timedelta(seconds=refresh_seconds)
        # With configured certificates nothing is downloaded until the first
        # interval has passed or a message names a serial we do not know.
        self._due = clock.now() + self._interval
        self._last_unknown: datetime | None = None
        # One download at a time; callers that wait for it use its outcome.
        self._lock = asyncio.Lock()
        self._finished = 0  # downloads tried to the end, whatever the outcome
        self._failure: ChannelError | None = None

    async def ensure(self) -> None:
        """Before each use: download when nothing is trusted (first use), and
        again once the refresh interval has passed."""
        now = self._clock.now()
        self._drop_expired(now)
        if not self.keys:
            await self.refresh()  # nothing to verify with: its error is the caller's
            return
        if now < self._due:
            return
        try:
            await self.refresh()
        except ChannelError as exc:
            log.warning(
                "wechat platform certificates not refreshed, still trusting %s: %s",
                sorted(self.keys),
                exc.message,
            )

    async def learn(self, serial: str) -> bool:
        """A message names a serial we do not trust: download the list once
        (at most once a minute for this reason). True if it is trusted now."""
        now = self._clock.now()
        if self._last_unknown is None or now - self._last_unknown >= UNKNOWN_SERIAL_COOLDOWN:
            self._last_unknown = now
            await self.refresh()
        elif self._lock.locked():
            async with self._lock:  # a download under way may bring it
                pass
        return serial in self.keys

    async def refresh(self) -> None:
        """Download and install the list; raises ChannelError if it cannot be
        fetched or trusted, keeping the certificates trusted so far."""
        finished = self._finished
        async with self._lock:
            if self._finished != finished:  # a download ended while this task waited: use it
                if self._failure is not None:
                    raise self._failure
                return
            try:
                listed = await self._download()
            except ChannelError as exc:
                self._failure = exc
                self._due = self._clock.now() + min(RETRY_AFTER, self._interval)
                raise
            finally:
                self._finished += 1
            self._failure = None
            self._downloaded = listed  # WeChat's list is the current set: retired ones drop out
            self._rebuild()
            self._due = self._clock.now() + self._interval
            self.downloads += 1
            log.info("wechat platform certificates downloaded: %s", sorted(listed))

    async def _download(self) -> dict[str, Listed]:
        response = await self._fetch()
        headers = {k.lower(): v for k, v in response.headers.items()}
        now = self._clock.now()
        if self.keys:
            check_signed(headers, response.content, self.keys, first=False)
            return read_list(response.content, self._apiv3_key, now)
        listed = read_list(response.content, self._apiv3_key, now)
        check_signed(headers, response.content, {s: c.key for s, c in listed.items()}, first=True)
        return listed

    def _drop_expired(self, now: datetime) -> None:
        expired = [serial for serial, cert in self._downloaded.items() if cert.expires <= now]
        if expired:
            for serial in expired:
                del self._downloaded[serial]
            self._rebuild()

    def _rebuild(self) -> None:
        self.keys.clear()
        self.keys.update(self._configured)
        self.keys.update({serial: cert.key for serial, cert in self._downloaded.items()})
