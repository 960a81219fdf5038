"""Provider failures, as the streamer needs to tell them apart.

Readers translate their library's exceptions into these so the shared loop
can decide: shrink the block range, back off, or just retry. Any other
exception from a reader is treated as a transient provider error too; none
of them ever moves a cursor (DESIGN invariant 4).
"""

from __future__ import annotations


class ProviderError(Exception):
    """A node / RPC endpoint failed; retry later (after `retry_after` s when known)."""

    def __init__(self, message: str, *, retry_after: float | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.endpoint = endpoint


class RateLimited(ProviderError):
    """429, or 403 with a suspension: wait at least `retry_after` before asking again."""


class RangeTooLarge(ProviderError):
    """The provider refused the block range (too many blocks or too many results)."""


class MalformedResponse(ProviderError):
    """The provider answered something that is not the expected shape."""
