"""What watchers record: transfers, cursors, leases, transfers seen before final."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime


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
