"""TOTP against the RFC 6238 appendix B vectors, and scrypt hashes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from engine.admin import passwords, totp

# RFC 6238 appendix B: the SHA-1 seed is "12345678901234567890"; 8 digits.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix", "expected"), RFC_VECTORS)
def test_rfc6238_sha1_vectors(unix: int, expected: str) -> None:
    assert totp.hotp(RFC_SEED, unix // 30, digits=8) == expected


def test_rfc4226_hotp_vectors() -> None:
    # RFC 4226 appendix D, counters 0..3.
    assert [totp.hotp(RFC_SEED, c) for c in range(4)] == ["755224", "287082", "359152", "969429"]


def test_code_accepted_once_and_within_one_step() -> None:
    secret = totp.new_secret()
    now = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    code = totp.code_at(secret, now)
    step = totp.matching_step(secret, code, now, last_step=0)
    assert step == totp.step_at(now)
    assert totp.matching_step(secret, code, now, last_step=step) is None  # replay
    later = datetime(2026, 1, 1, 12, 0, 40, tzinfo=UTC)  # next step: previous code still good
    assert totp.matching_step(secret, code, later, last_step=0) == step
    much_later = datetime(2026, 1, 1, 12, 2, 0, tzinfo=UTC)
    assert totp.matching_step(secret, code, much_later, last_step=0) is None


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_refused(bad: str) -> None:
    assert totp.matching_step(totp.new_secret(), bad, datetime.now(UTC), 0) is None


def test_provisioning_uri() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "alice")
    assert uri.startswith("otpauth://totp/usdtpay%3Aalice?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri and "issuer=usdtpay" in uri


def test_password_hash_round_trip() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("scrypt$15$8$1$")
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)
    assert stored != passwords.hash_password("correct horse battery")  # salted


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==", "bcrypt$1$2$3$4$5"])
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert not passwords.verify_password("anything", stored)


def test_strength() -> None:
    assert passwords.check_strength("short") is not None
    assert passwords.check_strength("aaaaaaaaaaaaaaa") is not None
    assert passwords.check_strength("a long enough phrase") is None
