"""Merchants, receiving wallets, orders and their unique-amount reservations."""

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
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime
from engine.models.sealed import SealedKey


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
