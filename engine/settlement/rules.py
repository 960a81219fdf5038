"""What makes a transfer count (DESIGN invariant 3), as data.

The reader already asks the node for the configured contract and final
blocks only; the engine checks again so a misbehaving reader (or a tx hash
a merchant pasted) can never settle an order with the wrong token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from engine.config import Settings


class Reason(StrEnum):
    """Why a transfer is unmatched: stable codes auditors filter on."""

    FAILED_RECEIPT = "failed_receipt"
    WRONG_TOKEN = "wrong_token"
    NO_ORDER = "no_order"  # no order at this address near this amount
    UNDERPAID = "underpaid"  # a live order at this address wanted more
    OVERPAID = "overpaid"  # a live order at this address wanted less
    TOO_EARLY = "too_early"  # block time before the order was created
    TOO_LATE = "too_late"  # block time after expiry + late window
    ALREADY_PAID = "already_paid"  # the order was settled by another transfer
    ORDER_CLOSED = "order_closed"  # the order was closed / failed
    NOT_FINAL = "not_final"  # an exchange record not credited for good (yet)
    BAD_AMOUNT = "bad_amount"  # an exchange amount that is no USDT amount (e.g. 7 decimals)


class TransferStatus(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"


# Order statuses a transfer may still settle.
SETTLEABLE = ("pending", "expired")


@dataclass(frozen=True)
class MatchRules:
    token_contract: str
    late_window: timedelta

    def same_token(self, chain: str, contract: str) -> bool:
        # EVM addresses differ only in checksum case; TRON base58 is exact.
        if chain == "eth":
            return contract.lower() == self.token_contract.lower()
        return contract == self.token_contract


def rules_for(settings: Settings, chain: str) -> MatchRules:
    contract = settings.eth.usdt_contract if chain == "eth" else settings.tron.usdt_contract
    return MatchRules(
        token_contract=contract,
        late_window=timedelta(minutes=settings.orders.late_window_minutes),
    )
