"""Request budgets: a token bucket over a fake clock (no sleeping, no timing)."""

from __future__ import annotations

import pytest

from watchers.exchanges.limiter import Bucket, Budget


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_half_of_six_per_second_lets_three_through_then_spaces_the_rest() -> None:
    t = FakeTime()
    bucket = Bucket(Budget(6, 1.0), share=0.5, clock=t.clock, sleep=t.sleep)
    for _ in range(6):
        await bucket.take()
    # 3 from the full bucket, then one every 1/3 s
    assert t.slept == pytest.approx([1 / 3] * 3)
    assert t.now - 100.0 == pytest.approx(1.0)


async def test_weight_counts_against_a_pool() -> None:
    t = FakeTime()
    bucket = Bucket(Budget(180_000, 60.0), share=0.5, clock=t.clock, sleep=t.sleep)
    for _ in range(30):  # 30 x 3000 = the whole half-minute share
        await bucket.take(3000)
    assert t.slept == []
    await bucket.take(3000)
    assert t.slept == pytest.approx([2.0])  # 3000 weight at 1500 / s


async def test_a_pause_holds_every_caller_until_it_is_over() -> None:
    t = FakeTime()
    bucket = Bucket(Budget(10, 1.0), share=1.0, clock=t.clock, sleep=t.sleep)
    bucket.pause(30)
    await bucket.take()
    assert t.now >= 130.0
    assert bucket.waited >= 30.0


def test_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        Bucket(Budget(1, 1.0), share=0)
    assert Budget(6, 1.0).per_minute(0.5) == pytest.approx(180.0)
