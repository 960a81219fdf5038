"""A per-key sliding-window limit (per merchant, per client IP), in memory.

Per process: behind several API processes the effective limit is the
setting times the process count.

The table holds at most `max_keys` buckets. When it is full, buckets with
no hit inside the window go first, then the least recently used buckets
that are under their limit, a tenth of the table at a time; a throttled
bucket is dropped only when every bucket is throttled. So a flood of new
keys (many addresses) cannot reset the buckets that hold someone back
(issue 12, finding 10).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class _Bucket:
    __slots__ = ("hits", "limit")

    def __init__(self, limit: int) -> None:
        self.hits: deque[float] = deque()
        self.limit = limit


class RateLimiter:
    def __init__(self, per_minute: int, *, window_s: float = 60.0, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_keys = max_keys
        # Least recently used first.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, key: str, now: float | None = None, *, limit: int | None = None) -> bool:
        """Count one hit for `key` unless its window is full; `limit`
        overrides per_minute for this kind of key."""
        now = time.monotonic() if now is None else now
        limit = self.per_minute if limit is None else limit
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(limit)
        else:
            self._buckets.move_to_end(key)
            bucket.limit = limit
        self._trim(bucket, now)
        if len(bucket.hits) >= limit:
            return False
        bucket.hits.append(now)
        return True

    def full(self, key: str, now: float | None = None, *, limit: int | None = None) -> bool:
        """Whether `key` has used its window, without counting a hit."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            return False
        self._trim(bucket, now)
        return len(bucket.hits) >= (self.per_minute if limit is None else limit)

    def __len__(self) -> int:
        return len(self._buckets)

    def _trim(self, bucket: _Bucket, now: float) -> None:
        while bucket.hits and now - bucket.hits[0] >= self.window_s:
            bucket.hits.popleft()

    def _evict(self, now: float) -> None:
        target = self.max_keys - max(1, self.max_keys // 10)
        for key in [k for k, b in self._buckets.items() if not b.hits or now - b.hits[-1] >= self.window_s]:
            del self._buckets[key]
        if len(self._buckets) <= target:
            return
        for key in list(self._buckets):  # least recently used first
            bucket = self._buckets[key]
            self._trim(bucket, now)
            if len(bucket.hits) < bucket.limit:
                del self._buckets[key]
                if len(self._buckets) <= target:
                    return
        while len(self._buckets) > target:  # every bucket is throttled
            self._buckets.popitem(last=False)
