"""Which slot a PostgreSQL create tries first: what this process knows.

Why: the batch's search (pg_create.SQL_BATCH) finds the smallest free slot
by reading the live reservations of the price, and costs PostgreSQL about
1 ms; a statement that takes one named slot costs about 0.15 ms. Once the
first slot of a price is live, every later create at that price searched.

A slot stays live until its `held_until`: nothing releases one early (a
paid order keeps its amount for the late window). So the slots this
process took, and the live ones its statements saw, are known live until
then, and the smallest slot not known live is the one to try. It is the
smallest free slot whenever this process is the only one creating at
that price; when another process holds it, the statement takes nothing,
says until when the slot is held, and the create searches.

A statement takes its slot only if the enabled addresses are still the
ones it was planned with (it sends their fingerprint), and answers them
when they are not. So a wallet enabled or disabled meanwhile costs one
search, never a slot on a disabled address or a slot out of order.

Forgetting is always safe (the create then tries a slot that is live and
searches), so the memory is bounded by dropping what has lapsed, and then
the oldest: at most `limit` slots, about 200 bytes each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

Key = tuple[str, str, int]  # chain, address, amount units


class SlotHints:
    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._held: dict[Key, datetime] = {}  # slot -> held until
        self._addresses: dict[str, list[str]] = {}  # chain -> enabled addresses, wallet order
        self._fingerprints: dict[str, str] = {}  # chain -> fingerprint() of those
        self.trying: set[Key] = set()  # the slots the batches in flight try
        # (chain, base, step) -> (p, t): positions below p are live until t at least
        self._floors: dict[tuple[str, int, int], tuple[int, datetime]] = {}

    def addresses(self, chain: str) -> list[str] | None:
        return self._addresses.get(chain)

    def fingerprint(self, chain: str) -> str | None:
        """The known enabled addresses as PostgreSQL's
        md5(array_to_string(addresses, ',')) gives them; None if unknown."""
        return self._fingerprints.get(chain)

    def target(
        self, chain: str, base: int, step: int, slots: int, now: datetime, planned: set[Key]
    ) -> Key | None:
        """The smallest slot neither known live at `now` nor in `planned`
        (the slots that earlier creates of the batches in flight try), in
        the order of engine.amounts: offset k on every address before
        k + 1. None when the addresses are unknown or every slot is known
        live."""
        addresses = self._addresses.get(chain)
        if not addresses:
            return None
        n = len(addresses)
        # A price's first positions known live, until when at least: a hot
        # price with thousands of live orders is not walked from 0 each time.
        start, prefix_until = self._floors.get((chain, base, step), (0, None))
        if prefix_until is not None and prefix_until <= now:
            start, prefix_until = 0, None
        prefix_end, found = start, None
        for position in range(start, slots * n):
            offset, i = divmod(position, n)
            key = (chain, addresses[i], base + (offset + 1) * step)
            held = self._held.get(key)
            if held is not None and held > now:
                if prefix_end == position:
                    prefix_end = position + 1
                    prefix_until = held if prefix_until is None else min(prefix_until, held)
                continue
            if key not in planned:
                found = key
                break
        if prefix_end > start and prefix_until is not None:
            self._floors[(chain, base, step)] = (prefix_end, prefix_until)
        return found

    def saw_addresses(self, chain: str, addresses: Sequence[str] | None) -> None:
        """The chain's enabled addresses, as a statement answered them when
        they were not the ones known."""
        self._floors.clear()  # positions stand for other slots now
        if addresses:
            self._addresses[chain] = list(addresses)
            # A fingerprint of what the operator set, not a secret: md5 is what PostgreSQL has built in.
            joined = ",".join(addresses).encode()
            self._fingerprints[chain] = hashlib.md5(joined, usedforsecurity=False).hexdigest()
        else:
            self._addresses.pop(chain, None)
            self._fingerprints.pop(chain, None)

    def held(self, key: Key, until: datetime, now: datetime) -> None:
        """Slot `key` is live until `until` (taken by this process, or seen held)."""
        if until <= now:
            return
        self._held.pop(key, None)  # re-inserted last: the oldest go first
        self._held[key] = until
        if len(self._held) > self._limit:
            self._shrink(now)

    def _shrink(self, now: datetime) -> None:
        self._floors.clear()  # one per price: bounded with the slots
        live = {key: until for key, until in self._held.items() if until > now}
        if len(live) > self._limit // 2:
            keep = list(live.items())[-(self._limit // 2) :]
            live = dict(keep)
        self._held = live
