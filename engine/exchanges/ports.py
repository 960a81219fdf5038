"""What the engine needs from an exchange account, as data and a Protocol.

Watchers implement `ExchangeReader` per exchange (OKX, Binance, HTX) over the
exchange's read-only API; the engine never imports them (DESIGN: imports go
one way). Amounts are integer USDT atomic units parsed from the exchange's
text, never through a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

EXCHANGES = ("okx", "binance", "htx")
# The seed's `plat` values, by exchange.
PLAT_OF = {"okx": "OKX", "binance": "BINANCE", "htx": "HTX"}

# Rights an API key may hold; only READ is acceptable for a receiving account.
READ = "read"
TRADE = "trade"
WITHDRAW = "withdraw"
TRANSFER = "transfer"


@dataclass(frozen=True)
class ExchangeRecord:
    """One incoming record of a receiving account: an internal transfer, a
    deposit, or (Binance) a Pay transfer.

    `record_id` is the exchange's own id, unique per exchange (prefixed with
    the source when one exchange has several id spaces). `amount_units` is
    None when the text is not a positive amount with at most 6 decimals, so
    it can never equal an order's amount. `final` is the exchange's own
    "credited for good" state (OKX state 2, Binance status 1, HTX safe).
    """

    exchange: str
    record_id: str
    source: str  # deposit | pay
    currency: str  # upper case, as the exchange names it
    amount_text: str
    amount_units: int | None
    final: bool
    state: str  # the raw state, for auditors
    time: datetime
    internal: bool | None = None  # internal transfer (True) or chain deposit (False), when known
    sender: str = ""  # the sender as the exchange shows it (uid, email, phone, address)
    refs: dict[str, str] = field(default_factory=dict)  # other ids: txId, depId, fromWdId, ...


@dataclass(frozen=True)
class KeyCheck:
    """Who owns an API key and what it may do, as the exchange reports it."""

    exchange: str
    uid: str
    rights: frozenset[str]
    can_read_deposits: bool
    label: str = ""
    notes: tuple[str, ...] = ()  # facts worth showing the operator (IP binding, expiry)

    @property
    def excess_rights(self) -> frozenset[str]:
        return self.rights - {READ}

    @property
    def read_only(self) -> bool:
        return self.can_read_deposits and not self.excess_rights


class ExchangeReader(Protocol):
    """A receiving account's read-only view, one per (exchange, account)."""

    exchange: str

    async def check_key(self) -> KeyCheck: ...

    async def incoming(self, start: datetime, end: datetime) -> list[ExchangeRecord]:
        """Every incoming record (any currency, any state) whose time lies in
        [start, end], all pages fetched; order not guaranteed."""
        ...

    async def find(self, hash: str, p_addr: str, start: datetime, end: datetime) -> list[ExchangeRecord]:
        """Records the payer's supplement identifiers may name: one filtered
        call where the exchange filters by that id, otherwise a scan of
        [start, end]. The caller judges them."""
        ...

    async def aclose(self) -> None: ...
