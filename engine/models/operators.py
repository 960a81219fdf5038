"""The operator console: accounts, sessions, the audit log and transfer decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime
from engine.models.sealed import SealedTotp


class AdminAccount(Base):
    """A person who may open the console; role operator (everything) or
    support (read and resend only)."""

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # scrypt$n$r$p$salt$hash
    # The TOTP shared secret (base32): the verifier needs the plain value,
    # so it is sealed with admin.totp_key rather than hashed (engine.totp_sealing).
    totp_secret: Mapped[str] = mapped_column(SealedTotp())
    # The last TOTP time step accepted: a code is good once (RFC 6238 5.2).
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    role: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AdminSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is kept,
    so a copy of the database opens no session."""

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("admin_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """Every console action: who, when, what, before and after."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="")
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class TransferDecision(Base):
    """An operator's resolution of an unmatched transfer: credited to an
    order, or refunded outside usdtpay. `usdtpay reconcile` reports it."""

    __tablename__ = "transfer_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))  # credited | refunded
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    # What the transfer was recorded as before the decision.
    reason_before: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdminLoginAttempt(Base):
    """A console sign-in that failed, or is being checked, counted against
    its source and its username (`key`: "ip:<source>" / "user:<name>"). The
    sign-in limit counts these rows, so it holds across processes
    (engine.admin.login_limit)."""

    __tablename__ = "admin_login_attempts"
    __table_args__ = (
        Index("ix_admin_login_attempts_key_at", "key", "at"),
        Index("ix_admin_login_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
