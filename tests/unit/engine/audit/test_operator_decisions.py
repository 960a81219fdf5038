"""Reconciliation reports operators' decisions on unmatched transfers (made
in the console) as their own findings, with who, when and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.audit.chain import ChainEvidence, reconcile_chain
from engine.audit.findings import Kind, exit_code
from engine.models import Order, Transfer, TransferDecision
from tests.factories import tron_address
from tests.unit.engine.audit.builders import order, row
from tests.unit.engine.audit.memchain import MemoryChain

A1 = tron_address(1)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def decision(transfer_id: int, kind: str, order_id: int | None, reason: str) -> TransferDecision:
    return TransferDecision(
        transfer_id=transfer_id,
        decision=kind,
        order_id=order_id,
        reason_before=reason,
        note="shop accepts it",
        decided_by="alice",
        decided_at=WHEN,
    )


def evidence(
    chain: MemoryChain, recorded: list[Transfer], orders: list[Order], decided: list[TransferDecision]
) -> ChainEvidence:
    return ChainEvidence(
        chain="tron",
        start_block=0,
        end_block=chain.blocks - 1,
        on_chain=list(chain.placed),
        recorded=recorded,
        orders={o.id: o for o in orders},
        paid_ids={o.id for o in orders if o.status == "paid"},
        late_window=timedelta(minutes=30),
        decisions={d.transfer_id: d for d in decided},
    )


def test_credited_underpayment_is_an_operator_decision_not_a_difference() -> None:
    chain = MemoryChain()
    t = chain.put(1, 100, A1, 13_880_000)  # the order asked 13.89
    o = order(A1, 13_890_000, chain.time_of(100) - timedelta(minutes=5), paid_by=t)
    r = row(t, o.id)
    r.id = 41
    [f] = reconcile_chain(evidence(chain, [r], [o], [decision(41, "credited", o.id, "underpaid")]))
    assert f.kind == Kind.OPERATOR_CREDITED and f.order_id == o.id
    assert "credited to order" in f.message and "alice" in f.message and "shop accepts it" in f.message
    assert "underpaid" in f.message and "asks 13.89" in f.message  # the difference is still said
    assert f.operator_decision and not f.needs_attention and exit_code([f]) == 0


def test_refunded_transfer_is_reported_as_such() -> None:
    chain = MemoryChain()
    t = chain.put(2, 50, A1, 5_000_000)
    r = row(t, None, status="unmatched", reason="no_order")
    r.id = 7
    [f] = reconcile_chain(evidence(chain, [r], [], [decision(7, "refunded", None, "no_order")]))
    assert f.kind == Kind.OPERATOR_REFUNDED
    assert "refunded outside usdtpay by alice" in f.message


def test_without_a_decision_the_underpayment_still_needs_attention() -> None:
    chain = MemoryChain()
    t = chain.put(1, 100, A1, 13_880_000)
    o = order(A1, 13_890_000, chain.time_of(100) - timedelta(minutes=5))
    r = row(t, o.id, status="unmatched", reason="underpaid")
    [f] = reconcile_chain(evidence(chain, [r], [o], []))
    assert f.kind == Kind.UNMATCHED_TRANSFER and f.needs_attention
