"""The pure chain comparison: every kind of finding from planted data."""

from __future__ import annotations

from datetime import timedelta

from engine.audit.chain import ChainEvidence, hashes_to_look_up, likely_order, reconcile_chain
from engine.audit.findings import Kind, exit_code
from engine.chain import ChainTransfer
from engine.models import Order, Transfer
from tests.factories import tron_address
from tests.unit.engine.audit.builders import order, row
from tests.unit.engine.audit.memchain import MemoryChain, tx_hash

A1, A2 = tron_address(1), tron_address(2)
LATE = timedelta(minutes=30)


def evidence(
    chain: MemoryChain, recorded: list[Transfer], orders: list[Order], paid: list[Order] | None = None
) -> ChainEvidence:
    paid = paid if paid is not None else [o for o in orders if o.status == "paid"]
    return ChainEvidence(
        chain="tron",
        start_block=0,
        end_block=chain.blocks - 1,
        on_chain=list(chain.placed),
        recorded=recorded,
        orders={o.id: o for o in orders},
        paid_ids={o.id for o in paid},
        late_window=LATE,
    )


def paid_pair(
    chain: MemoryChain, n: int, block: int, units: int, to: str = A1
) -> tuple[ChainTransfer, Order]:
    t = chain.put(n, block, to, units)
    o = order(to, units, chain.time_of(block) - timedelta(minutes=5), paid_by=t)
    return t, o


def kinds(findings: list) -> list[Kind]:  # type: ignore[type-arg]
    return sorted(f.kind for f in findings)


def test_clean_books_are_all_matched() -> None:
    chain = MemoryChain()
    t1, o1 = paid_pair(chain, 1, 100, 13_890_001)
    t2, o2 = paid_pair(chain, 2, 200, 5_000_002, A2)
    findings = reconcile_chain(evidence(chain, [row(t1, o1.id), row(t2, o2.id)], [o1, o2]))
    assert kinds(findings) == [Kind.MATCHED, Kind.MATCHED]
    assert {f.order_id for f in findings} == {o1.id, o2.id}
    assert exit_code(findings) == 0


def test_order_paid_without_a_transfer() -> None:
    chain = MemoryChain()
    o = order(A1, 10_000_001, chain.time_of(50), status="paid")
    o.tx_hash, o.block_number, o.paid_at = tx_hash(99), 60, chain.time_of(60)
    ev = evidence(chain, [], [o])
    assert hashes_to_look_up(ev) == {tx_hash(99)}
    [f] = reconcile_chain(ev)
    assert f.kind == Kind.ORDER_NOT_ON_CHAIN and f.order_id == o.id
    assert f.expected_units == 10_000_001 and f.tx_hash == tx_hash(99)
    assert exit_code([f]) == 1


def test_deleted_transfer_row_is_found_with_its_order() -> None:
    chain = MemoryChain()
    t, o = paid_pair(chain, 1, 100, 7_000_001)
    [f] = reconcile_chain(evidence(chain, [], [o]))
    assert f.kind == Kind.TRANSFER_NOT_IN_DB
    assert (f.order_id, f.tx_hash, f.chain_units) == (o.id, t.tx_hash, 7_000_001)
    assert "no row" in f.message


def test_transfer_unknown_to_everyone() -> None:
    chain = MemoryChain()
    chain.put(5, 10, A2, 1_234_567)
    [f] = reconcile_chain(evidence(chain, [], []))
    assert f.kind == Kind.TRANSFER_NOT_IN_DB and f.order_id is None and "missed" in f.message


def test_changed_amount_in_a_transfer_row() -> None:
    chain = MemoryChain()
    t, o = paid_pair(chain, 1, 100, 7_000_001)
    [f] = reconcile_chain(evidence(chain, [row(t, o.id, amount_units=7_500_001)], [o]))
    assert f.kind == Kind.TRANSFER_DIFFERS
    assert (f.chain_units, f.db_units, f.order_id) == (7_000_001, 7_500_001, o.id)
    assert "7.500001 recorded, 7.000001 on chain" in f.message


def test_changed_order_amount_differs_from_chain() -> None:
    chain = MemoryChain()
    t, o = paid_pair(chain, 1, 100, 7_000_001)
    o.usdt_units = 7_000_002
    [f] = reconcile_chain(evidence(chain, [row(t, o.id)], [o]))
    assert f.kind == Kind.ORDER_DIFFERS and "asks 7.000002 USDT" in f.message


def test_reused_hash_is_one_finding_naming_both_orders() -> None:
    chain = MemoryChain()
    t, o1 = paid_pair(chain, 1, 100, 7_000_001)
    o2 = order(A1, 8_000_003, chain.time_of(90), status="paid")
    o2.tx_hash, o2.paid_at = "0x" + t.tx_hash.upper(), chain.time_of(101)
    findings = reconcile_chain(evidence(chain, [row(t, o1.id)], [o1, o2]))
    assert kinds(findings) == sorted([Kind.MATCHED, Kind.HASH_REUSED])
    reused = next(f for f in findings if f.kind == Kind.HASH_REUSED)
    assert reused.related_order_ids == tuple(sorted((o1.id, o2.id))) and reused.tx_hash == t.tx_hash


def test_row_without_chain_transfer() -> None:
    chain = MemoryChain()
    ghost = ChainTransfer("tron", tx_hash(7), 0, 40, chain.time_of(40), A2, A1, "T", 3_000_000)
    o = order(A1, 3_000_000, chain.time_of(30), paid_by=ghost)
    [f] = reconcile_chain(evidence(chain, [row(ghost, o.id)], [o]))
    assert f.kind == Kind.TRANSFER_NOT_ON_CHAIN and f.order_id == o.id
    assert (f.chain_units, f.db_units) == (None, 3_000_000)


def test_unmatched_transfers_name_their_likely_order() -> None:
    chain = MemoryChain(blocks=2000)
    pending = order(A1, 10_000_001, chain.time_of(100))
    other = order(A1, 9_000_001, chain.time_of(0) - timedelta(hours=3))
    under = chain.put(1, 150, A1, 9_990_001)
    expired = order(A2, 4_000_007, chain.time_of(0))
    late = chain.put(2, 1500, A2, 4_000_007)  # 75 min after creation: past expiry (30) + late window (30)
    rows = [row(under, reason="underpaid"), row(late, reason="late")]
    findings = reconcile_chain(evidence(chain, rows, [pending, other, expired]))
    assert kinds(findings) == [Kind.UNMATCHED_TRANSFER, Kind.UNMATCHED_TRANSFER]
    by_hash = {f.tx_hash: f for f in findings}
    assert by_hash[under.tx_hash].order_id == pending.id
    assert by_hash[under.tx_hash].reason == "underpaid"
    assert by_hash[late.tx_hash].order_id == expired.id
    assert exit_code(findings) == 1


def test_likely_order_prefers_exact_amount_for_late_payments() -> None:
    chain = MemoryChain(blocks=5000)
    exact = order(A1, 5_000_001, chain.time_of(0))
    near_in_window = order(A1, 5_000_002, chain.time_of(1400))
    t = chain.put(1, 1500, A1, 5_000_001)  # 75 min after `exact` was created: past expiry + late
    assert likely_order(t, "late", [exact, near_in_window], LATE) is exact
    assert likely_order(t, "overpaid", [exact, near_in_window], LATE) is near_in_window
    far = chain.put(2, 4999, A2, 1)
    assert likely_order(far, None, [exact], LATE) is None


def test_second_payment_of_a_paid_order() -> None:
    chain = MemoryChain()
    t1, o = paid_pair(chain, 1, 100, 6_000_001)
    t2 = chain.put(2, 120, A1, 6_000_001)
    findings = reconcile_chain(evidence(chain, [row(t1, o.id), row(t2, reason="already_paid")], [o]))
    assert kinds(findings) == sorted([Kind.MATCHED, Kind.ORDER_PAID_TWICE])
    twice = next(f for f in findings if f.kind == Kind.ORDER_PAID_TWICE)
    assert twice.tx_hash == t2.tx_hash and twice.order_id == o.id


def test_two_matched_rows_for_one_order() -> None:
    chain = MemoryChain()
    t1, o = paid_pair(chain, 1, 100, 6_000_001)
    t2 = chain.put(2, 110, A1, 6_000_001)
    findings = reconcile_chain(evidence(chain, [row(t1, o.id), row(t2, o.id)], [o]))
    assert kinds(findings) == sorted([Kind.MATCHED, Kind.ORDER_PAID_TWICE])


def test_order_paid_outside_the_range_is_told_by_lookup() -> None:
    chain = MemoryChain()
    t, o = paid_pair(chain, 1, 100, 2_000_001)
    o.block_number = 300  # the order claims a block the transfer is not in
    ev = evidence(chain, [], [o])
    ev.on_chain = []  # as if the range fetch did not hold block 100
    ev.lookups = {t.tx_hash: _lookup_for(t)}
    [f] = reconcile_chain(ev)
    assert f.kind == Kind.ORDER_DIFFERS and "block 300" in f.message


def _lookup_for(t: ChainTransfer):  # type: ignore[no-untyped-def]
    from engine.chain import TxLookup

    return TxLookup(True, t.block_number, t.block_time, True, True, (t,))
