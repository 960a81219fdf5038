"""A per-key sliding-window limit (per merchant, per client IP), in memory.

Per process: behind several API processes the effective limit is the
setting times the process count.
"""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, per_minute: int, *, window_s: float = 60.0, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None, *, limit: int | None = None) -> bool:
        """Count one hit for `key` unless its window is full; `limit`
        overrides per_minute for this kind of key."""
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= (self.per_minute if limit is None else limit):
            return False
        hits.append(now)
        return True

    def full(self, key: str, now: float | None = None, *, limit: int | None = None) -> bool:
        """Whether `key` has used its window, without counting a hit."""
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if not hits:
            return False
        recent = sum(1 for at in hits if now - at < self.window_s)
        return recent >= (self.per_minute if limit is None else limit)

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window_s]
        for key in stale:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            self._hits.clear()
