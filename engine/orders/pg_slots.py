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
the oldest: at most `limit` slots, about 200 bytes each. Beside the slots,
each price keeps a floor: its first positions, known live until a time.
A search sets it (every position before the one it took is live), and a
slot taken right after it moves it on, so forgetting a price's slots costs
no search, or one if the floor was not known: before floors outlived
their slots, a process that held more than `limit` slots searched again
and again (PostgreSQL create ÷ healthz fell from 0.33 to 0.15 in the
bench's third round, p99 70 ms; now 0.30, p99 7-9 ms).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

Key = tuple[str, str, int]  # chain, address, amount units
_K = TypeVar("_K")
_V = TypeVar("_V")


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
            self._set_floor((chain, base, step), prefix_end, prefix_until)
        return found

    def took(self, base: int, step: int, taken: Key, held_until: datetime, now: datetime) -> None:
        """A first pass took `taken` until `held_until`, at the price
        (`base`, `step`). When it is the position right after the price's
        floor, the floor moves past it: so forgetting the slot later does
        not cost a search."""
        self.held(taken, held_until, now)
        price = (taken[0], base, step)
        position, until = self._floors.get(price, (0, None))
        if until is not None and until <= now:
            position, until = 0, None
        if self._position(base, step, taken) == position:
            self._set_floor(price, position + 1, held_until if until is None else min(until, held_until))

    def searched(
        self,
        base: int,
        step: int,
        addresses: int,
        taken: Key,
        held_until: datetime,
        live_until: datetime | None,
        now: datetime,
    ) -> None:
        """A search took `taken` until `held_until`: the smallest free slot
        of the price (`base`, `step`) among `addresses` enabled addresses,
        while the live slots it read were held until `live_until` at least
        (None: it read none). So every position up to the taken one is live
        until the earlier of the two."""
        self.held(taken, held_until, now)
        # Positions are the known addresses'; a floor counted on others would only mislead.
        if len(self._addresses.get(taken[0], ())) != addresses:
            return
        position = self._position(base, step, taken)
        if position is None:
            return
        until = held_until if live_until is None else min(held_until, live_until)
        price = (taken[0], base, step)
        floor = self._floors.get(price)
        if until > now and (floor is None or floor[1] <= now or floor[0] <= position):
            self._set_floor(price, position + 1, until)

    def _position(self, base: int, step: int, slot: Key) -> int | None:
        """The slot's position at the price (target's order), or None if it
        is not one of the price's on the known addresses."""
        chain, address, amount = slot
        known = self._addresses.get(chain)
        offset, rest = divmod(amount - base, step)
        if not known or address not in known or rest or offset < 1:
            return None
        return (offset - 1) * len(known) + known.index(address)

    def _set_floor(self, price: tuple[str, int, int], position: int, until: datetime) -> None:
        self._floors.pop(price, None)  # re-inserted last: the oldest go first
        self._floors[price] = (position, until)

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
        self._held = _newest({k: until for k, until in self._held.items() if until > now}, self._limit // 2)
        # A floor stays true when its slots are forgotten. There is at most
        # one per price, and a new price comes with a new slot: so this bounds them too.
        self._floors = _newest({p: f for p, f in self._floors.items() if f[1] > now}, self._limit // 2)


def _newest(items: dict[_K, _V], keep: int) -> dict[_K, _V]:
    """At most the `keep` entries inserted last."""
    return dict(list(items.items())[-keep:]) if len(items) > keep else items
