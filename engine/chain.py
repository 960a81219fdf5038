"""What the engine needs from a chain, as data and Protocols.

Watchers (and the supplement and reconcile callers) implement `ChainReader`
per chain; the engine never imports them (DESIGN: imports go one way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from engine.config import Settings

CHAINS = ("tron", "eth")
# Nominal block interval, used to express a lag in blocks as seconds.
BLOCK_SECONDS = {"tron": 3.0, "eth": 12.0}


def chain_enabled(settings: Settings, chain: str) -> bool:
    if chain == "tron":
        return settings.tron.enabled
    if chain == "eth":
        return settings.eth.enabled
    return False


@dataclass(frozen=True)
class ChainTransfer:
    """One token Transfer log, decoded.

    Addresses are in the canonical form stored in `wallets` (TRON base58,
    EVM EIP-55); `tx_hash` is lower-case hex without 0x (see
    engine.addresses.normalize_tx_hash); amounts are atomic units.
    """

    chain: str
    tx_hash: str
    log_index: int
    block_number: int
    block_time: datetime
    from_address: str
    to_address: str
    token_contract: str
    amount_units: int
    success: bool = True


@dataclass(frozen=True)
class Heads:
    head: int  # newest block the node knows
    final: int  # newest block that counts as final (solidified / N confirmations)
    head_time: datetime | None = None


@dataclass(frozen=True)
class TxLookup:
    """A transaction fetched by hash, for supplement and reconcile.

    `found` False means the node does not know the hash. `transfers` are all
    Transfer logs of the tx (any token, any recipient) so the caller can say
    exactly which check failed.
    """

    found: bool
    block_number: int | None = None
    block_time: datetime | None = None
    success: bool = False
    final: bool = False
    transfers: tuple[ChainTransfer, ...] = ()
    # The node's heads when asked, so a payer can be told "n / N" confirmations.
    head: int | None = None
    final_head: int | None = None


class ChainReader(Protocol):
    chain: str

    async def heads(self) -> Heads: ...

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        """USDT Transfer logs in blocks [start, end] (inclusive) whose
        recipient is in `addresses` and whose receipt succeeded."""
        ...

    async def block_time(self, number: int) -> datetime: ...

    async def transaction(self, tx_hash: str) -> TxLookup: ...


@runtime_checkable
class UnconfirmedReader(Protocol):
    """A reader that can also look above the final head (issue 17)."""

    async def unconfirmed_transfers(
        self, start: int, end: int, addresses: frozenset[str]
    ) -> list[ChainTransfer]:
        """USDT Transfer logs to `addresses` in blocks [start, end] above the
        final head, as the node sees them now (they may still be reorganised
        away). Never used to settle: only to show a payment as seen."""
        ...
