"""An in-memory ChainReader for the audit tests: blocks every 3 s from a
start time, transfers placed in blocks, faults injectable per call."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from engine.chain import ChainTransfer, Heads, TxLookup

T0 = datetime(2026, 3, 1, tzinfo=UTC)
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def tx_hash(n: int) -> str:
    return hashlib.sha256(f"tx-{n}".encode()).hexdigest()


@dataclass
class MemoryChain:
    chain: str = "tron"
    blocks: int = 1000
    final_depth: int = 0
    block_seconds: int = 3
    start: datetime = T0
    placed: list[ChainTransfer] = field(default_factory=list)
    fail_transfers_at: int | None = None  # a block number whose batch fails
    failures_left: int | None = None  # how many times; None = always
    calls: dict[str, int] = field(default_factory=dict)

    def time_of(self, number: int) -> datetime:
        return self.start + timedelta(seconds=self.block_seconds * number)

    def block_at(self, when: datetime) -> int:
        return int((when - self.start).total_seconds()) // self.block_seconds

    def put(self, n: int, block: int, to: str, units: int, log_index: int = 0, **kw: object) -> ChainTransfer:
        t = ChainTransfer(
            chain=self.chain,
            tx_hash=tx_hash(n),
            log_index=log_index,
            block_number=block,
            block_time=self.time_of(block),
            from_address=str(kw.get("sender", "TPayerPayerPayerPayerPayerPayer111")),
            to_address=to,
            token_contract=USDT,
            amount_units=units,
        )
        self.placed.append(t)
        return t

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def heads(self) -> Heads:
        self._count("heads")
        return Heads(head=self.blocks - 1, final=self.blocks - 1 - self.final_depth)

    async def block_time(self, number: int) -> datetime:
        self._count("block_time")
        if not 0 <= number < self.blocks:
            raise ValueError(f"no block {number}")
        return self.time_of(number)

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        self._count("transfers")
        failing = self.fail_transfers_at is not None and start <= self.fail_transfers_at <= end
        if failing and (self.failures_left is None or self.failures_left > 0):
            if self.failures_left is not None:
                self.failures_left -= 1
            raise ConnectionError("node answered 503 Service Unavailable")
        return [
            t
            for t in self.placed
            if start <= t.block_number <= end and t.to_address in addresses and t.success
        ]

    async def transaction(self, tx: str) -> TxLookup:
        self._count("transaction")
        found = [t for t in self.placed if t.tx_hash == tx]
        if not found:
            return TxLookup(found=False)
        head = self.blocks - 1 - self.final_depth
        first = found[0]
        return TxLookup(
            found=True,
            block_number=first.block_number,
            block_time=first.block_time,
            success=True,
            final=first.block_number <= head,
            transfers=tuple(found),
        )


def moved(t: ChainTransfer, **changes: object) -> ChainTransfer:
    return replace(t, **changes)  # type: ignore[arg-type]
