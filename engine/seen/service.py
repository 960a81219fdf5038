"""Recording what the watcher sees above the final head, and what a payer is shown.

`record_seen` is the watcher's side: it judges the transfers of the
unconfirmed blocks with settlement's own matching rules (read only) and
makes the chain's rows exactly the ones that would pay, under pay or over
pay an order. `payer_view` is the cashier's side: the transfer confirming
for an order, with its confirmations so far, or the near miss to explain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import ChainTransfer
from engine.models import Order, SeenTransfer
from engine.seen import queries
from engine.settlement.ingest import likely_order
from engine.settlement.matching import judge, near_amount_verdict
from engine.settlement.queries import exact_candidates, known_keys, live_orders_at
from engine.settlement.rules import MatchRules, Reason

log = logging.getLogger("usdtpay.seen")

PAYS = "pays"
KINDS = {Reason.UNDERPAID: Reason.UNDERPAID.value, Reason.OVERPAID: Reason.OVERPAID.value}


@dataclass(frozen=True)
class SeenChange:
    added: int = 0
    kept: int = 0
    gone: int = 0


async def judge_seen(
    session: AsyncSession, chain: str, transfers: Sequence[ChainTransfer], rules: MatchRules
) -> dict[tuple[str, int], tuple[ChainTransfer, int, str]]:
    """(tx, log) → (transfer, order id, pays | underpaid | overpaid) for the
    transfers settlement would tie to an order; the rest are left out."""
    known = await known_keys(session, chain, (t.tx_hash for t in transfers))
    fresh = [t for t in transfers if (t.tx_hash, t.log_index) not in known]
    candidates = await exact_candidates(session, chain, fresh)
    verdicts = [(t, judge(t, candidates.get((t.to_address, t.amount_units), []), rules)) for t in fresh]
    suspects = await live_orders_at(session, chain, [t for t, v in verdicts if v is None], rules)
    judged: dict[tuple[str, int], tuple[ChainTransfer, int, str]] = {}
    for transfer, first in verdicts:
        verdict = first or near_amount_verdict(
            transfer, likely_order(transfer, suspects.get(transfer.to_address, []), rules)
        )
        kind = PAYS if verdict.reason is None else KINDS.get(verdict.reason)
        if verdict.order_id is not None and kind is not None:
            judged[(transfer.tx_hash, transfer.log_index)] = (transfer, verdict.order_id, kind)
    return judged


async def record_seen(
    session: AsyncSession,
    chain: str,
    transfers: Sequence[ChainTransfer],
    now: datetime,
    rules: MatchRules,
) -> SeenChange:
    """Make the chain's seen rows exactly those of `transfers` (all the
    unconfirmed blocks, read just now) that concern an order; flush only.

    A row whose transfer is no longer there (a reorg, a dropped block) is
    deleted: nothing about it was ever in the books."""
    if any(t.chain != chain for t in transfers):
        raise ValueError(f"seen transfers for {chain} include another chain's")
    wanted = await judge_seen(session, chain, transfers, rules)
    existing = {(r.tx_hash, r.log_index): r for r in await queries.seen_of_chain(session, chain)}
    gone = [row for key, row in existing.items() if key not in wanted]
    await queries.delete_ids(session, [row.id for row in gone])
    for old in gone:
        log.info("seen transfer gone before it was final", extra={"chain": chain, "tx_hash": old.tx_hash})
    added = 0
    for key, (transfer, order_id, kind) in wanted.items():
        row = existing.get(key)
        if row is None:
            session.add(_new_row(transfer, order_id, kind, now))
            added += 1
            continue
        row.block_number, row.block_time = transfer.block_number, transfer.block_time
        row.order_id, row.verdict = order_id, kind
    await session.flush()
    return SeenChange(added=added, kept=len(wanted) - added, gone=len(gone))


def _new_row(transfer: ChainTransfer, order_id: int, kind: str, now: datetime) -> SeenTransfer:
    return SeenTransfer(
        chain=transfer.chain,
        tx_hash=transfer.tx_hash,
        log_index=transfer.log_index,
        block_number=transfer.block_number,
        block_time=transfer.block_time,
        from_address=transfer.from_address,
        to_address=transfer.to_address,
        amount_units=transfer.amount_units,
        order_id=order_id,
        verdict=kind,
        first_seen_at=now,
    )


@dataclass(frozen=True)
class Confirming:
    """A transfer that pays the order once final. Confirmations are counted
    as block explorers do (the block holding it is the first); `needed` is
    the chain's depth (12 confirmations on Ethereum, about 19 blocks to
    solid on TRON): the block is final with the next block after n = N."""

    tx_hash: str
    amount_units: int
    block_number: int
    confirmations: int
    needed: int | None


@dataclass(frozen=True)
class NearMiss:
    """A transfer to the order's address of another amount."""

    reason: str  # underpaid | overpaid
    sent_units: int
    needed_units: int
    tx_hash: str
    final: bool


@dataclass(frozen=True)
class PayerView:
    confirming: Confirming | None = None
    near_miss: NearMiss | None = None


def confirmations(block: int, head: int | None, final: int | None) -> tuple[int, int | None]:
    """(n, N) for a block, from the heads the watcher last recorded."""
    if head is None or final is None:
        return 1, None
    needed = max(1, head - final)
    return max(1, min(head - block + 1, needed)), needed


def payer_view(conn: Connection, order: Order) -> PayerView:
    """What the payer of an unpaid on-chain order should be told; empty
    otherwise. Reads only: run it through engine.work's read."""
    if order.chain is None or order.usdt_units is None or order.status == "paid":
        return PayerView()
    rows = queries.seen_for_order(conn, order.id)
    paying = [r for r in rows if r["verdict"] == PAYS]
    confirming = None
    if paying:
        head, final = queries.cursor_heads(conn, order.chain)
        row = paying[0]  # the earliest block: the one that will be final first
        n, needed = confirmations(row["block_number"], head, final)
        confirming = Confirming(row["tx_hash"], row["amount_units"], row["block_number"], n, needed)
    return PayerView(confirming=confirming, near_miss=_near_miss(conn, order, rows))


def _near_miss(conn: Connection, order: Order, rows: list[dict[str, Any]]) -> NearMiss | None:
    assert order.usdt_units is not None
    final = queries.latest_near_miss(conn, order.id)
    if final is not None and final["reason"] is not None:
        units, tx_hash = final["amount_units"], final["tx_hash"]
        return NearMiss(final["reason"], units, order.usdt_units, tx_hash, final=True)
    seen = [r for r in rows if r["verdict"] != PAYS]
    if seen:
        row = seen[-1]
        return NearMiss(row["verdict"], row["amount_units"], order.usdt_units, row["tx_hash"], final=False)
    return None
