"""Request budgets as token buckets, with pauses for 429 / ban answers.

Each exchange documents its limits per endpoint (or per weight pool); a
client takes a share of each (default half, so the key's owner and other
tools keep the rest) and waits for a token before every request. A 429 or
ban pauses the bucket until the exchange says it is over.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

EPSILON = 1e-6


@dataclass(frozen=True)
class Budget:
    """`requests` (or weight) per `per_seconds`, as the exchange documents it."""

    requests: float
    per_seconds: float
    note: str = ""

    def per_minute(self, share: float = 1.0) -> float:
        return self.requests * share * 60.0 / self.per_seconds


class Bucket:
    """A token bucket holding at most one window's worth of the share."""

    def __init__(
        self,
        budget: Budget,
        *,
        share: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.budget = budget
        self.capacity = max(1.0, budget.requests * share)
        self.rate = self.capacity / budget.per_seconds  # tokens per second
        self.tokens = self.capacity
        self.paused_until = 0.0
        self.waited = 0.0  # seconds spent waiting, for tests and metrics
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def pause(self, seconds: float) -> None:
        """Stop spending until `seconds` from now (429, ban) and drain the bucket."""
        now = self._clock()
        self.paused_until = max(self.paused_until, now + max(0.0, seconds))
        self.tokens = 0.0
        self._stamp = now

    async def take(self, weight: float = 1.0) -> None:
        weight = min(weight, self.capacity)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a bucket may outlive an event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:  # first come, first served
            while True:
                now = self._clock()
                if now < self.paused_until:
                    wait = self.paused_until - now
                else:
                    self._refill(now)
                    if self.tokens >= weight - EPSILON:  # float refills land a hair short
                        self.tokens = max(0.0, self.tokens - weight)
                        return
                    wait = (weight - self.tokens) / self.rate
                self.waited += wait
                await self._sleep(wait)


# One set of buckets per API key in this process: the watcher and every
# supplement request of an account spend the same budget.
_SHARED: dict[str, dict[str, Bucket]] = {}


def shared_buckets(owner: str, budgets: dict[str, Budget], share: float) -> dict[str, Bucket]:
    """The buckets of `owner` (e.g. "okx:" + a digest of the key), made once."""
    buckets = _SHARED.get(owner)
    if buckets is None or any(
        b.capacity != max(1.0, budgets[n].requests * share) for n, b in buckets.items()
    ):
        buckets = {name: Bucket(budget, share=share) for name, budget in budgets.items()}
        _SHARED[owner] = buckets
    return buckets


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
