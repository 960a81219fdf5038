"""Reading the chain for a time window, straight from a ChainReader: the
window is mapped to blocks by binary search on block times, then the
transfers are fetched in batches. The watchers' cursors play no part."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from engine.chain import ChainReader, ChainTransfer, TxLookup
from engine.errors import UsdtPayError

Progress = Callable[[int], None]  # called with the number of blocks just done


class ReconcileIncomplete(UsdtPayError):
    """The reconciliation could not read what it needs: exit code 2."""

    code = "reconcile_incomplete"
    status = 503


class _Times:
    """block_time with a cache, and a search that starts from an estimate:
    block intervals are nearly regular, so a gallop from the guessed block
    needs a handful of node requests where a plain bisection from genesis
    needs ~2 log2(head)."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.cache: dict[int, datetime] = {}

    async def at(self, number: int) -> datetime:
        if number not in self.cache:
            self.cache[number] = await self.reader.block_time(number)
        return self.cache[number]

    async def guess(self, when: datetime, lowest: int, final: int) -> int:
        """Where `when` should be, from the average interval of recent blocks."""
        sample = min(1000, final - lowest)
        if sample <= 0:
            return final
        newest, older = await self.at(final), await self.at(final - sample)
        interval = max((newest - older).total_seconds() / sample, 1e-3)
        return final - int((newest - when).total_seconds() / interval)

    async def first_at_or_after(
        self, when: datetime, lo: int, hi: int, guess: int, *, strict: bool = False
    ) -> int:
        """The first block in [lo, hi] whose time is >= `when` (> when if
        strict); hi + 1 when there is none. Block times never decrease."""

        async def after(n: int) -> bool:
            t = await self.at(n)
            return t > when or (t == when and not strict)

        # Bracket (below, above]: `below` is not after `when`, `above` is.
        g = min(max(guess, lo), hi)
        step = 1
        if await after(g):
            above = g
            while above - step >= lo and await after(above - step):
                above, step = above - step, step * 2
            below = max(above - step, lo - 1)
        else:
            below = g
            while below + step <= hi and not await after(below + step):
                below, step = below + step, step * 2
            above = min(below + step, hi + 1)
        while above - below > 1:
            mid = (above + below) // 2
            if await after(mid):
                above = mid
            else:
                below = mid
        return above


async def block_range(
    reader: ChainReader, start: datetime, end: datetime, final: int, *, lowest: int = 0
) -> tuple[int, int] | None:
    """Blocks whose time lies in [start, end], capped at the final head;
    None when the window holds no final block."""
    times = _Times(reader)
    try:
        first = await times.first_at_or_after(start, lowest, final, await times.guess(start, lowest, final))
        if first > final:
            return None
        end_guess = await times.guess(end, lowest, final)
        last = await times.first_at_or_after(end, first, final, end_guess, strict=True) - 1
    except Exception as exc:
        raise ReconcileIncomplete(
            f"{reader.chain}: could not read block times to map the window to blocks ({_describe(exc)}); "
            "check that the node is reachable and run again"
        ) from exc
    return (first, last) if last >= first else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or "no message"
    return f"{type(exc).__name__}: {text[:200]}"


async def fetch_transfers(
    reader: ChainReader,
    start: int,
    end: int,
    addresses: frozenset[str],
    *,
    batch: int,
    progress: Progress | None = None,
    attempts: int = 3,
    retry_delay: float = 1.0,
) -> list[ChainTransfer]:
    """All USDT transfers to `addresses` in blocks [start, end]. A batch
    that keeps failing stops the whole fetch: a partial list would turn
    into false "not on chain" findings."""
    found: list[ChainTransfer] = []
    a = start
    while a <= end:
        b = min(a + batch - 1, end)
        for attempt in range(1, attempts + 1):
            try:
                found.extend(await reader.transfers(a, b, addresses))
                break
            except Exception as exc:
                if attempt == attempts:
                    raise ReconcileIncomplete(
                        f"{reader.chain}: the node failed on blocks {a}-{b} after {attempts} tries "
                        f"({_describe(exc)}); blocks {a}-{end} were not read, so nothing was compared "
                        f"for {reader.chain}. Check the node URL and API keys, then run again"
                    ) from exc
                await asyncio.sleep(retry_delay * attempt)
        if progress is not None:
            progress(b - a + 1)
        a = b + 1
    return found


async def look_up(reader: ChainReader, hashes: set[str]) -> dict[str, TxLookup]:
    """`transaction(hash)` for each hash; a failure is a ReconcileIncomplete."""
    result: dict[str, TxLookup] = {}
    for tx_hash in sorted(hashes):
        try:
            result[tx_hash] = await reader.transaction(tx_hash)
        except Exception as exc:
            raise ReconcileIncomplete(
                f"{reader.chain}: could not look up transaction {tx_hash} ({_describe(exc)}); "
                "check the node and run again"
            ) from exc
    return result
