"""Settlement: transfers in, orders paid, cursors advanced (invariants 3 and 4)."""

from engine.settlement.cursor import (
    CursorMoved,
    advance_cursor,
    get_cursor,
    init_cursor,
    record_heads,
    set_cursor,
)
from engine.settlement.expiry import expire_due
from engine.settlement.ingest import IngestResult, Settle, ingest, settle_transfer
from engine.settlement.queries import list_cursors
from engine.settlement.rules import MatchRules, Reason, TransferStatus, rules_for

__all__ = [
    "CursorMoved",
    "IngestResult",
    "MatchRules",
    "Reason",
    "Settle",
    "TransferStatus",
    "advance_cursor",
    "expire_due",
    "get_cursor",
    "ingest",
    "init_cursor",
    "list_cursors",
    "record_heads",
    "rules_for",
    "set_cursor",
    "settle_transfer",
]
