"""Exchange receiving accounts and their cursors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime


class ExchangeAccount(Base):
    """A receiving account at an exchange (seed 004 type 2), read with a
    read-only API key. Its uid is also a `wallets` row (chain = the
    exchange), so unique amounts are reserved per account under the same
    constraint as on-chain addresses (invariant 2)."""

    __tablename__ = "exchange_accounts"
    __table_args__ = (UniqueConstraint("exchange", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(8))  # okx | binance | htx
    uid: Mapped[str] = mapped_column(String(64))  # the key owner's id, as the exchange reports it
    pay_to: Mapped[str] = mapped_column(String(128), default="")  # what the payer sends to; "" = uid
    label: Mapped[str] = mapped_column(String(64), default="")
    # Secrets: sealed with exchanges.secrets_key when it is set; never logged.
    api_key: Mapped[str] = mapped_column(String(512))
    api_secret: Mapped[str] = mapped_column(String(512))
    passphrase: Mapped[str] = mapped_column(String(512), default="")
    rights: Mapped[str] = mapped_column(String(64), default="")  # as last checked, e.g. "read"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExchangeCursor(Base):
    """Where an account's watcher resumes: records up to `scanned_until`
    have been read; one not final yet keeps `open_since` (and the next
    window's start) back until it is, or until exchanges.pending_hours."""

    __tablename__ = "exchange_cursors"

    account_id: Mapped[int] = mapped_column(ForeignKey("exchange_accounts.id"), primary_key=True)
    scanned_until: Mapped[datetime] = mapped_column(UTCDateTime())
    open_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    polls: Mapped[int] = mapped_column(BigInteger, default=0)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
