"""What a reconciliation reports: one `Finding` per transfer, order, hash
or channel payment that was looked at, with the amounts on each side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    # Agreement: nothing to do.
    MATCHED = "matched"
    FIAT_MATCHED = "fiat_matched"
    # On-chain discrepancies.
    ORDER_NOT_ON_CHAIN = "order_not_on_chain"  # paid order, its transfer is not on the chain
    ORDER_DIFFERS = "order_differs"  # paid order, the chain transfer disagrees with it
    TRANSFER_NOT_IN_DB = "transfer_not_in_db"  # on the chain, unknown to the database
    TRANSFER_NOT_ON_CHAIN = "transfer_not_on_chain"  # a transfers row the chain does not have
    TRANSFER_DIFFERS = "transfer_differs"  # a transfers row that disagrees with the chain
    UNMATCHED_TRANSFER = "unmatched_transfer"  # recorded unmatched (under/over/late/unknown)
    HASH_REUSED = "hash_reused"  # one tx hash on two orders
    ORDER_PAID_TWICE = "order_paid_twice"  # two transfers for one order
    # Fiat channels.
    FIAT_STATUS_DIFFERS = "fiat_status_differs"
    FIAT_AMOUNT_DIFFERS = "fiat_amount_differs"
    FIAT_UNKNOWN_AT_CHANNEL = "fiat_unknown_at_channel"
    # An operator resolved an unmatched transfer in the console (who, when
    # and the note are in the message): reported, never silently matched.
    OPERATOR_CREDITED = "operator_credited"
    OPERATOR_REFUNDED = "operator_refunded"


OK_KINDS = frozenset({Kind.MATCHED, Kind.FIAT_MATCHED})
# Decided by a person: listed on their own, not counted as needing attention.
DECISION_KINDS = frozenset({Kind.OPERATOR_CREDITED, Kind.OPERATOR_REFUNDED})


@dataclass(frozen=True)
class Finding:
    """Amounts are integer units of `unit` (USDT: 6 decimals, CNY: fen).

    `expected_units` is what the order asks for, `chain_units` what the
    chain (or the channel) shows, `db_units` what our tables recorded.
    """

    kind: Kind
    source: str  # tron | eth | wechat | alipay | quickpay
    message: str
    unit: str = "USDT"
    order_id: int | None = None
    merchant_order_no: str | None = None
    order_status: str | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    block_number: int | None = None
    block_time: datetime | None = None
    address: str | None = None
    expected_units: int | None = None
    chain_units: int | None = None
    db_units: int | None = None
    reason: str | None = None
    related_order_ids: tuple[int, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return self.kind not in OK_KINDS and self.kind not in DECISION_KINDS

    @property
    def operator_decision(self) -> bool:
        return self.kind in DECISION_KINDS


def exit_code(findings: list[Finding]) -> int:
    """0 when everything matched, 1 when any finding needs attention."""
    return 1 if any(f.needs_attention for f in findings) else 0


def summarize(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """Counts per source and kind, for the terminal table and the JSON file."""
    table: dict[str, dict[str, int]] = {}
    for finding in findings:
        row = table.setdefault(finding.source, {})
        row[finding.kind.value] = row.get(finding.kind.value, 0) + 1
    return table
