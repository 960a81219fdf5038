"""The TRON ChainReader: block scanning over the node HTTP API.

One `gettransactioninfobyblocknum` per final block, whatever the number of
watched addresses: the block's transaction infos carry every log, and the
USDT Transfer logs to our addresses are picked out locally. Final means
solidified, so infos come from the solidity API (`walletsolidity/...`) and
a node is only asked for a block it has reported as solid.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from engine.addresses import normalize_tx_hash
from engine.chain import ChainTransfer, Heads, TxLookup
from engine.config import Settings, TronSettings
from watchers.tron.client import TronMalformed, TronNodeClient, TronNodeError
from watchers.tron.decode import (
    MalformedAnswer,
    bare_hex20,
    block_header,
    block_transfers,
    hex20_set,
    iter_transfers,
    ms_to_datetime,
    succeeded,
    tx_infos,
)

INFO_BY_BLOCK = "walletsolidity/gettransactioninfobyblocknum"
HEAD_INFO_BY_BLOCK = "wallet/gettransactioninfobyblocknum"
MAX_HEAD_BLOCKS = 64  # head blocks read in one look; the solid lag is about 19


class TronReader:
    chain = "tron"

    def __init__(
        self,
        client: TronNodeClient,
        *,
        usdt_contract: str,
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.usdt_contract = usdt_contract
        self._contract_hex = bare_hex20(usdt_contract)
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self._ours: tuple[frozenset[str], frozenset[str]] | None = None
        # Head blocks already read, by number: each is asked for once.
        self._head_blocks: dict[int, list[ChainTransfer]] = {}
        self._head_for: frozenset[str] | None = None

    @classmethod
    def from_settings(cls, tron: TronSettings) -> TronReader:
        client = TronNodeClient(
            tron.node_urls,
            tron.api_keys,
            timeout_s=tron.timeout_seconds,
            max_connections=max(8, _concurrency(tron) * 2),
        )
        return cls(client, usdt_contract=tron.usdt_contract, concurrency=_concurrency(tron))

    async def aclose(self) -> None:
        await self.client.aclose()

    @property
    def requests(self) -> int:
        """Node requests made so far (benchmarks report requests per block)."""
        return self.client.requests

    # -- ChainReader ----------------------------------------------------
    async def heads(self) -> Heads:
        now_block, _ = await self.client.call("wallet/getnowblock")
        solid_block, node = await self.client.call("walletsolidity/getnowblock")
        head, head_time = self._header(now_block, "wallet/getnowblock")
        final, _ = self._header(solid_block, "walletsolidity/getnowblock")
        self.client.nodes[node].solid = final
        # Two nodes may have answered; a head below the final head is only lag between them.
        return Heads(head=max(head, final), final=final, head_time=head_time)

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        if end < start:
            return []
        ours = self._recipients_hex(addresses)
        if not ours:
            return []  # nothing watched: nothing to fetch (the cursor may still move)
        tasks: list[asyncio.Task[list[ChainTransfer]]] = []
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._block(n, ours)) for n in range(start, end + 1)]
        except* Exception as errors:  # one failed block fails the range; the cursor stays
            raise errors.exceptions[0] from None
        return [t for task in tasks for t in task.result()]

    async def unconfirmed_transfers(
        self, start: int, end: int, addresses: frozenset[str]
    ) -> list[ChainTransfer]:
        """Transfers in head blocks [start, end] from the full-node API, each
        block asked for once: at most one more request per block.

        A TRON block above the solid head is rarely replaced; when one is,
        its transfers stay "seen" until the solid scan passes the block, and
        the streamer forgets them then. An empty answer for the newest block
        is not kept (mainnet blocks are never empty: the node behind a load
        balancer may not have it yet)."""
        ours = self._recipients_hex(addresses)
        if ours is not self._head_for:  # other recipients: what was read no longer applies
            self._head_blocks, self._head_for = {}, ours
        for number in [n for n in self._head_blocks if n < start]:
            del self._head_blocks[number]
        missing = [n for n in range(start, end + 1) if n not in self._head_blocks][:MAX_HEAD_BLOCKS]
        if ours and missing:
            await self._read_head_blocks(missing, end, ours)
        return [t for n in range(start, end + 1) for t in self._head_blocks.get(n, [])]

    async def _read_head_blocks(self, numbers: list[int], newest: int, ours: frozenset[str]) -> None:
        async def one(number: int) -> tuple[int, Any]:
            async with self._semaphore:
                answer, _ = await self.client.call(HEAD_INFO_BY_BLOCK, {"num": number})
            return number, answer

        results = await asyncio.gather(*(one(n) for n in numbers), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                continue
            number, answer = result
            try:
                infos = tx_infos(answer, number)
                found = block_transfers(infos, contract_hex=self._contract_hex, recipients_hex=ours)
            except MalformedAnswer:
                continue  # asked again next time
            if infos or number < newest:
                self._head_blocks[number] = found
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed

    async def block_time(self, number: int) -> datetime:
        answer, _ = await self.client.call("wallet/getblockbynum", {"num": number})
        if answer == {}:
            raise TronNodeError(f"block {number} is not known to the node yet", retry_after=3.0)
        found, time = self._header(answer, "wallet/getblockbynum")
        if found != number:
            raise TronMalformed(f"asked for block {number}, the node answered block {found}")
        return time

    async def transaction(self, tx_hash: str) -> TxLookup:
        """All Transfer logs of a tx (any token, any recipient), for supplement."""
        value = normalize_tx_hash(tx_hash)
        info, _ = await self.client.call("wallet/gettransactioninfobyid", {"value": value})
        if not info:  # `{}`: unknown, or not yet in a block
            return TxLookup(found=False)
        try:
            number = info["blockNumber"]
            time = ms_to_datetime(info.get("blockTimeStamp"))
            transfers = tuple(iter_transfers(info, contract_hex=None, recipients_hex=None))
        except (KeyError, TypeError, MalformedAnswer) as exc:
            raise TronMalformed(f"tx {value}: malformed transaction info ({exc})") from exc
        solid_block, node = await self.client.call("walletsolidity/getnowblock")
        final, _ = self._header(solid_block, "walletsolidity/getnowblock")
        self.client.nodes[node].solid = final
        head = None
        if number > final:  # the payer is told how far it has come: n / N
            now_block, _ = await self.client.call("wallet/getnowblock")
            head = max(self._header(now_block, "wallet/getnowblock")[0], number, final)
        return TxLookup(
            found=True,
            block_number=number,
            block_time=time,
            success=succeeded(info),
            final=number <= final,
            transfers=transfers,
            head=head,
            final_head=final,
        )

    # -- helpers --------------------------------------------------------
    async def _block(self, number: int, ours: frozenset[str]) -> list[ChainTransfer]:
        async with self._semaphore:
            answer, _ = await self.client.call(INFO_BY_BLOCK, {"num": number}, needs_solid=number)
        try:
            return block_transfers(
                tx_infos(answer, number), contract_hex=self._contract_hex, recipients_hex=ours
            )
        except MalformedAnswer as exc:
            raise TronMalformed(str(exc)) from exc

    def _recipients_hex(self, addresses: frozenset[str]) -> frozenset[str]:
        # The streamer passes the same set every step: convert 10,000 base58
        # addresses once, not once per call.
        if self._ours is None or self._ours[0] != addresses:
            self._ours = (addresses, hex20_set(addresses))
        return self._ours[1]

    @staticmethod
    def _header(answer: Any, path: str) -> tuple[int, datetime]:
        try:
            return block_header(answer)
        except MalformedAnswer as exc:
            raise TronMalformed(f"{path}: {exc}") from exc


def _concurrency(tron: TronSettings) -> int:
    # Block infos fetched in parallel; TronGrid allows ~15 requests/s per key.
    return tron.concurrency


def build_tron_reader(settings: Settings) -> TronReader:
    """The reader `watchers.readers.build_reader` plugs in; the caller closes it."""
    return TronReader.from_settings(settings.tron)
