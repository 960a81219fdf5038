"""A reconciliation run: read the database in short sessions, read the
chains and channels with no session open, then compare (pure)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from engine.admin.queries import decisions_by_transfer
from engine.audit import queries
from engine.audit.blocks import ReconcileIncomplete, block_range, fetch_transfers, look_up
from engine.audit.chain import LIKELY_HORIZON, ChainEvidence, hashes_to_look_up, reconcile_chain, tx_key
from engine.audit.channels import ChannelView, reconcile_fiat
from engine.audit.findings import Finding, exit_code
from engine.chain import ChainReader, ChainTransfer
from engine.db import SessionFactory
from engine.models import ChannelPayment, Order


class Progress(Protocol):
    def begin(self, chain: str, total_blocks: int) -> None: ...

    def advance(self, chain: str, blocks: int) -> None: ...


@dataclass
class ChainScan:
    chain: str
    start_block: int | None = None
    end_block: int | None = None
    final_head: int | None = None
    addresses: int = 0
    on_chain: int = 0
    recorded: int = 0
    note: str = ""


@dataclass
class Report:
    start: datetime
    end: datetime
    scans: list[ChainScan] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return exit_code(self.findings)


@dataclass(frozen=True)
class OrderTiming:
    expire: timedelta
    late: timedelta


async def reconcile_chain_window(
    sessions: SessionFactory,
    reader: ChainReader,
    start: datetime,
    end: datetime,
    *,
    timing: OrderTiming,
    batch: int,
    progress: Progress | None = None,
    attempts: int = 3,
    retry_delay: float = 1.0,
) -> tuple[ChainScan, list[Finding]]:
    chain = reader.chain
    scan = ChainScan(chain=chain)
    async with sessions() as session:
        addresses = await queries.receiving_addresses(session, chain)
    scan.addresses = len(addresses)
    try:
        heads = await reader.heads()
    except Exception as exc:
        raise ReconcileIncomplete(f"{chain}: the node did not answer for its head ({exc}); check it") from exc
    scan.final_head = heads.final
    blocks = await block_range(reader, start, end, heads.final)
    if blocks is None:
        scan.note = f"no final block in the window (final head {heads.final})"
        return scan, []
    scan.start_block, scan.end_block = blocks
    if progress is not None:
        progress.begin(chain, blocks[1] - blocks[0] + 1)
    on_chain = await fetch_transfers(
        reader,
        *blocks,
        addresses,
        batch=batch,
        progress=(lambda n: progress.advance(chain, n)) if progress else None,
        attempts=attempts,
        retry_delay=retry_delay,
    )
    ev = await _evidence(sessions, chain, blocks, start, end, on_chain, timing)
    ev.lookups = await look_up(reader, hashes_to_look_up(ev))
    scan.on_chain, scan.recorded = len(on_chain), len(ev.recorded)
    return scan, reconcile_chain(ev)


async def _evidence(
    sessions: SessionFactory,
    chain: str,
    blocks: tuple[int, int],
    start: datetime,
    end: datetime,
    on_chain: list[ChainTransfer],
    timing: OrderTiming,
) -> ChainEvidence:
    async with sessions() as session:
        recorded = await queries.recorded_transfers(session, chain, *blocks)
        paid = await queries.paid_orders(session, chain, *blocks, start, end)
        hashes = {t.tx_hash for t in on_chain} | {h for o in paid if (h := tx_key(o.tx_hash))}
        related = await queries.orders_by_hashes(session, hashes)
        decisions = await decisions_by_transfer(session, [r.id for r in recorded])
        credited = {d.order_id for d in decisions.values() if d.order_id is not None}
        referenced = await queries.orders_by_ids(
            session, {r.order_id for r in recorded if r.order_id} | credited
        )
        unmatched = [r for r in recorded if r.status != "matched"]
        lookback = start - timing.expire - timing.late - LIKELY_HORIZON
        candidates = await queries.candidate_orders(
            session, chain, {r.to_address for r in unmatched}, lookback, end
        )
    orders: dict[int, Order] = {o.id: o for o in [*paid, *related, *referenced, *candidates]}
    return ChainEvidence(
        chain=chain,
        start_block=blocks[0],
        end_block=blocks[1],
        on_chain=on_chain,
        recorded=recorded,
        orders=orders,
        paid_ids={o.id for o in paid},
        late_window=timing.late,
        decisions=decisions,
    )


PaymentQuery = Callable[[ChannelPayment], Awaitable[ChannelView | None]]


async def reconcile_fiat_window(
    sessions: SessionFactory, channels: Iterable[str], query: PaymentQuery, start: datetime, end: datetime
) -> list[Finding]:
    """Ask each channel about each of its payments in the window."""
    names = sorted(set(channels))
    if not names:
        return []
    async with sessions() as session:
        payments = await queries.channel_payments(session, start, end, names)
        orders = {o.id: o for o in await queries.orders_by_ids(session, {p.order_id for p in payments})}
    views: dict[str, ChannelView | None] = {}
    for payment in payments:
        try:
            views[payment.out_trade_no] = await query(payment)
        except Exception as exc:
            raise ReconcileIncomplete(
                f"{payment.channel}: the query for payment {payment.out_trade_no} failed "
                f"({type(exc).__name__}: {str(exc)[:200]}); check the channel settings and run again"
            ) from exc
    return reconcile_fiat(payments, orders, views)
