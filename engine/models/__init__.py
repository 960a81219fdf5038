"""All tables, one module per concern, imported here so `engine.models`
is the one place to import them from (and Alembic sees every table).
Money columns are integers (atomic units / fen); rates are stored as
decimal text so no database ever rounds them."""

from engine.models.base import Base, UTCDateTime
from engine.models.chain import ChainCursor, SeenTransfer, Transfer, WatcherLease
from engine.models.exchanges import ExchangeAccount, ExchangeCursor
from engine.models.operators import (
    AdminAccount,
    AdminLoginAttempt,
    AdminSession,
    AuditEntry,
    TransferDecision,
)
from engine.models.orders import Merchant, Order, Reservation, Wallet
from engine.models.payments import ChannelPayment, Notification, NotificationAttempt, RateSnapshot

__all__ = [
    "AdminAccount",
    "AdminLoginAttempt",
    "AdminSession",
    "AuditEntry",
    "Base",
    "ChainCursor",
    "ChannelPayment",
    "ExchangeAccount",
    "ExchangeCursor",
    "Merchant",
    "Notification",
    "NotificationAttempt",
    "Order",
    "RateSnapshot",
    "Reservation",
    "SeenTransfer",
    "Transfer",
    "TransferDecision",
    "UTCDateTime",
    "Wallet",
    "WatcherLease",
]
