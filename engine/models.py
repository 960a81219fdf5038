"""All tables, in one place. Money columns are integers (atomic units / fen);
rates are stored as decimal text so no database ever rounds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.merchant_keys import SealedKey


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(String(32), unique=True)
    # The shared secret for MD5 request signatures and HMAC callbacks; the
    # signature schemes need the plain value, so it is stored retrievably,
    # sealed when merchant_keys_secret is set (engine.merchant_keys).
    key: Mapped[str] = mapped_column(SealedKey())
    # SHA-256 of the API key (X-Api-Key: <pid>:<api key>), a bearer secret
    # apart from the signing key; None: the merchant has none.
    api_key_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    # A disabled merchant is unknown to every face (its orders still settle
    # and notify); set from the operator console.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Wallet(Base):
    """A watch-only receiving address: the engine never holds its key."""

    __tablename__ = "wallets"
    __table_args__ = (UniqueConstraint("chain", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Order(Base):
    """One table for every face and channel."""

    __tablename__ = "orders"
    __table_args__ = (
        # Orders created without a key or signature (trusted network only)
        # number apart: they cannot squat a merchant's own order numbers.
        UniqueConstraint("merchant_id", "open_create", "merchant_order_no"),
        Index("ix_orders_match", "chain", "address", "usdt_units"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_picked_by", "picked_by"),
    )

    # The platform order number: random, below 2^53 (faces send it as a JSON number).
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    merchant_order_no: Mapped[str] = mapped_column(String(64))
    # Created with neither a merchant key nor a signature: allowed for the
    # client's network only (api.trusted_networks).
    open_create: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    face: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(256), default="")
    currency: Mapped[str] = mapped_column(String(4))
    fiat_fen: Mapped[int | None] = mapped_column(BigInteger)
    # The USDT price as the merchant gave it (USDT-priced orders only);
    # usdt_units is what the payer must send, unique fraction included.
    usdt_price_units: Mapped[int | None] = mapped_column(BigInteger)
    usdt_units: Mapped[int | None] = mapped_column(BigInteger)
    rate: Mapped[str | None] = mapped_column(String(32))
    chain: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    paid_late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_url: Mapped[str] = mapped_column(String(1024), default="")
    return_url: Mapped[str] = mapped_column(String(1024), default="")
    param: Mapped[str] = mapped_column(Text, default="")
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(80))
    payer_address: Mapped[str | None] = mapped_column(String(64))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    paid_units: Mapped[int | None] = mapped_column(BigInteger)
    channel_trade_no: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # The source (IPv4 address or IPv6 /64) whose pick at the cashier
    # reserved this open order's USDT amount: such picks are capped per
    # source and in all (engine.amounts.live_picks).
    picked_by: Mapped[str | None] = mapped_column(String(64))


class Reservation(Base):
    """One row per (chain, address, amount) slot, ever.

    The unique constraint is the guarantee of invariant 2: a slot is taken
    by inserting it, or by re-pointing a row whose hold has lapsed with a
    conditional UPDATE; both are single statements the database arbitrates.
    """

    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("chain", "address", "amount_units"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(64))
    amount_units: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int] = mapped_column(BigInteger)
    held_until: Mapped[datetime] = mapped_column(UTCDateTime())


class Transfer(Base):
    """Every USDT transfer to one of our addresses that the engine has seen,
    matched to an order or kept as unmatched with its reason."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("chain", "tx_hash", "log_index"),
        Index("ix_transfers_status", "status"),
        Index("ix_transfers_block", "chain", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(8))
    # Lower-case hex without 0x, so EVM and TRON hashes compare the same way.
    tx_hash: Mapped[str] = mapped_column(String(80))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[datetime] = mapped_column(UTCDateTime())
    from_address: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(64))
    token_contract: Mapped[str] = mapped_column(String(64))
    amount_units: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # matched | unmatched
    reason: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="watcher")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChainCursor(Base):
    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(String(8), primary_key=True)
    next_block: Mapped[int] = mapped_column(BigInteger)  # first block not yet ingested
    head: Mapped[int | None] = mapped_column(BigInteger)
    final_head: Mapped[int | None] = mapped_column(BigInteger)
    head_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocks_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WatcherLease(Base):
    """Who watches a chain, and how it is doing: one row per chain.

    A watcher claims the row at start (refused while another process holds
    it and beats), beats on every step, and records its last error and
    since when it fails, so `usdtpay status`, /api/health and /metrics tell
    a failing watcher from one that never started."""

    __tablename__ = "watcher_leases"

    chain: Mapped[str] = mapped_column(String(8), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))  # host:pid of the process
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(512))
    errors: Mapped[int] = mapped_column(BigInteger, default=0)


class Notification(Base):
    """The outbox: written in the same transaction as the state change."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    merchant_id: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(16))  # usdt | dryad | quickpay
    event: Mapped[str] = mapped_column(String(16), default="paid")
    url: Mapped[str] = mapped_column(String(1024))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationAttempt(Base):
    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(String(512))
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | failed


class ChannelPayment(Base):
    """A fiat payment attempt at a channel (WeChat, Alipay, QuickPay)."""

    __tablename__ = "channel_payments"
    __table_args__ = (UniqueConstraint("channel", "channel_trade_no"),)

    # Random like order ids: the dryad face shows it as `transactionId`.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    client_type: Mapped[str] = mapped_column(String(16))
    out_trade_no: Mapped[str] = mapped_column(String(64), unique=True)
    channel_trade_no: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    pay_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RateSnapshot(Base):
    __tablename__ = "rate_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rate: Mapped[str] = mapped_column(String(32))  # adjusted CNY per USDT
    median: Mapped[str] = mapped_column(String(32))  # before adjustment
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# The operator console (api.http.admin, engine.admin).


class AdminAccount(Base):
    """A person who may open the console; role operator (everything) or
    support (read and resend only)."""

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # scrypt$n$r$p$salt$hash
    # The TOTP shared secret (base32): the verifier needs the plain value.
    totp_secret: Mapped[str] = mapped_column(String(64))
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


class SeenTransfer(Base):
    """A transfer in a block above the final head that would pay (or under /
    over pay) an order. Not part of the books: the watcher rewrites a chain's
    rows on every look at its unconfirmed blocks (engine.seen), so one that a
    reorg drops is simply gone; settlement, reconcile and export never read it."""

    __tablename__ = "seen_transfers"
    __table_args__ = (
        UniqueConstraint("chain", "tx_hash", "log_index"),
        Index("ix_seen_transfers_chain_block", "chain", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(8))
    tx_hash: Mapped[str] = mapped_column(String(80))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[datetime] = mapped_column(UTCDateTime())
    from_address: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(64))
    amount_units: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # pays | underpaid | overpaid
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
