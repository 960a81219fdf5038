"""Window → block range by binary search, and the batched fetch."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.blocks import ReconcileIncomplete, block_range, fetch_transfers
from tests.factories import tron_address
from tests.unit.engine.audit.memchain import T0, MemoryChain

A1 = tron_address(1)


@pytest.mark.parametrize(
    ("start_s", "end_s", "expected"),
    [
        (0, 30, (0, 10)),  # both edges fall on blocks
        (1, 29, (1, 9)),  # edges between blocks: only blocks inside
        (-600, 6, (0, 2)),  # before genesis
        (2990, 10_000, (997, 999)),  # past the head: capped
        (30_000, 40_000, None),  # entirely after the head
        (4, 5, None),  # between two blocks
    ],
)
async def test_block_range(start_s: int, end_s: int, expected: tuple[int, int] | None) -> None:
    chain = MemoryChain(blocks=1000)
    got = await block_range(chain, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s), 999)
    assert got == expected
    assert chain.calls["block_time"] <= 2 * (math.ceil(math.log2(1000)) + 1)


async def test_block_range_stops_at_the_final_head() -> None:
    chain = MemoryChain(blocks=1000, final_depth=20)
    heads = await chain.heads()
    assert await block_range(chain, T0, T0 + timedelta(days=1), heads.final) == (0, 979)


async def test_fetch_in_batches_with_progress() -> None:
    chain = MemoryChain(blocks=1000)
    for i in range(10):
        chain.put(i, i * 97, A1, 1_000_000 + i)
    chain.put(99, 500, tron_address(9), 5)  # not ours
    done: list[int] = []
    found = await fetch_transfers(chain, 0, 999, frozenset({A1}), batch=300, progress=done.append)
    assert sorted(t.amount_units for t in found) == [1_000_000 + i for i in range(10)]
    assert done == [300, 300, 300, 100] and chain.calls["transfers"] == 4


async def test_a_passing_fault_is_retried() -> None:
    chain = MemoryChain(blocks=100, fail_transfers_at=50, failures_left=1)
    chain.put(1, 55, A1, 7)
    found = await fetch_transfers(chain, 0, 99, frozenset({A1}), batch=40, retry_delay=0)
    assert [t.amount_units for t in found] == [7]


async def test_a_lasting_fault_stops_with_what_was_not_read() -> None:
    chain = MemoryChain(blocks=100, fail_transfers_at=50)
    with pytest.raises(ReconcileIncomplete) as info:
        await fetch_transfers(chain, 0, 99, frozenset({A1}), batch=40, retry_delay=0)
    message = info.value.message
    assert "blocks 40-79 after 3 tries" in message and "blocks 40-99 were not read" in message
    assert "503" in message and "run again" in message


class IrregularChain:
    """Block times with gaps and repeats (missed slots, same-second blocks)."""

    chain = "tron"

    def __init__(self, gaps: list[int]) -> None:
        self.times = [T0]
        for gap in gaps:
            self.times.append(self.times[-1] + timedelta(seconds=gap))

    async def block_time(self, number: int):  # type: ignore[no-untyped-def]
        return self.times[number]


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 40), min_size=1, max_size=300),
    start_s=st.integers(-100, 9000),
    span_s=st.integers(0, 4000),
)
async def test_block_range_matches_a_scan(gaps: list[int], start_s: int, span_s: int) -> None:
    chain = IrregularChain(gaps)
    start, end = T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=start_s + span_s)
    inside = [n for n, t in enumerate(chain.times) if start <= t <= end]
    expected = (inside[0], inside[-1]) if inside else None
    assert await block_range(chain, start, end, len(chain.times) - 1) == expected  # type: ignore[arg-type]
