"""ChainReader for ERC20 USDT on an EVM chain, with web3's AsyncWeb3.

One `eth_getLogs` per chunk of recipients (contract + Transfer topic +
recipient topics), one `eth_getBlockByNumber` per block that has a log
(timestamps cached), N confirmations for finality. Several RPC URLs: a
failing endpoint hands the call to the next; the endpoint that answered
last is tried first next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound

from engine.addresses import normalize_tx_hash
from engine.chain import ChainTransfer, Heads, TxLookup
from engine.config import EthSettings
from engine.redact import mask_url
from watchers.errors import ProviderError, RangeTooLarge
from watchers.evm.errors import classify
from watchers.evm.logs import TRANSFER_TOPIC, address_topic, decode_transfer, is_erc20_transfer

log = logging.getLogger("usdtpay.watch.eth")
T = TypeVar("T")
BLOCK_TIME_CACHE = 4096
PARALLEL_BLOCK_READS = 8


class EvmReader:
    chain = "eth"

    def __init__(
        self,
        rpc_urls: Iterable[str],
        usdt_contract: str,
        *,
        confirmations: int = 12,
        addresses_per_filter: int = 100,
        timeout_s: float = 10.0,
    ) -> None:
        urls = list(rpc_urls)
        if not urls:
            raise ValueError("no RPC URL: set USDTPAY_ETH__RPC_URLS")
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        # web3's own retry is off: fail-over and backoff are decided here and
        # in the streamer, so one slow endpoint cannot stall a step for long.
        # Each client is labelled by its masked URL: a key in the URL
        # (Infura's /v3/<key>) never reaches an error, a log or the status.
        self._clients = [
            (
                mask_url(url),
                AsyncWeb3(
                    AsyncHTTPProvider(
                        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
                    )
                ),
            )
            for url in urls
        ]
        self._current = 0
        self.contract = str(to_checksum_address(usdt_contract))
        self.confirmations = confirmations
        self.addresses_per_filter = addresses_per_filter
        self._block_times: OrderedDict[int, datetime] = OrderedDict()
        self.requests = 0  # calls made, for benchmarks and logs

    @classmethod
    def from_settings(cls, settings: EthSettings) -> EvmReader:
        return cls(
            settings.rpc_urls,
            settings.usdt_contract,
            confirmations=settings.confirmations,
            addresses_per_filter=settings.addresses_per_filter,
            timeout_s=settings.timeout_seconds,
        )

    async def aclose(self) -> None:
        for _, w3 in self._clients:
            await w3.provider.disconnect()

    async def _call(self, what: str, fn: Callable[[AsyncWeb3[Any]], Awaitable[T]]) -> T:
        """Run `fn` on the current endpoint, failing over through the others.

        A range the providers refuse is reported as RangeTooLarge only when
        every endpoint refused it; otherwise the last error is raised.
        """
        errors: list[ProviderError] = []
        for attempt in range(len(self._clients)):
            index = (self._current + attempt) % len(self._clients)
            url, w3 = self._clients[index]
            self.requests += 1
            try:
                result = await fn(w3)
            except TransactionNotFound:
                raise
            except Exception as exc:
                error = classify(exc, url)
                error.__cause__ = exc
                errors.append(error)
                if len(self._clients) > 1:
                    log.warning("eth %s failed at %s (%s); trying the next RPC URL", what, url, error)
                continue
            self._current = index
            return result
        if all(isinstance(e, RangeTooLarge) for e in errors):
            raise errors[-1]
        raise next((e for e in reversed(errors) if not isinstance(e, RangeTooLarge)), errors[-1])

    async def heads(self) -> Heads:
        block = await self._call("eth_getBlockByNumber(latest)", lambda w3: w3.eth.get_block("latest"))
        number = int(block["number"])
        when = datetime.fromtimestamp(int(block["timestamp"]), UTC)
        self._remember(number, when)
        return Heads(head=number, final=number - self.confirmations, head_time=when)

    def _remember(self, number: int, when: datetime) -> None:
        self._block_times[number] = when
        self._block_times.move_to_end(number)
        while len(self._block_times) > BLOCK_TIME_CACHE:
            self._block_times.popitem(last=False)

    async def block_time(self, number: int) -> datetime:
        cached = self._block_times.get(number)
        if cached is not None:
            return cached
        block = await self._call(f"eth_getBlockByNumber({number})", lambda w3: w3.eth.get_block(number))
        when = datetime.fromtimestamp(int(block["timestamp"]), UTC)
        self._remember(number, when)
        return when

    async def _block_times_for(self, numbers: set[int]) -> dict[int, datetime]:
        limit = asyncio.Semaphore(PARALLEL_BLOCK_READS)

        async def one(number: int) -> tuple[int, datetime]:
            async with limit:
                return number, await self.block_time(number)

        return dict(await asyncio.gather(*(one(n) for n in sorted(numbers))))

    async def _logs(self, start: int, end: int, recipients: list[str]) -> list[Any]:
        params: Any = {
            "fromBlock": start,
            "toBlock": end,
            "address": self.contract,
            "topics": [TRANSFER_TOPIC, None, [address_topic(a) for a in recipients]],
        }
        return list(await self._call(f"eth_getLogs({start}-{end})", lambda w3: w3.eth.get_logs(params)))

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        ours = {str(to_checksum_address(a)) for a in addresses}
        recipients = sorted(ours)
        raw: list[Any] = []
        for i in range(0, len(recipients), self.addresses_per_filter):
            raw += await self._logs(start, end, recipients[i : i + self.addresses_per_filter])
        # Removed logs belong to a reorganised block; a provider ignoring
        # part of the filter must not hand us other contracts or recipients.
        wanted = [
            entry
            for entry in raw
            if not entry.get("removed", False)
            and is_erc20_transfer(entry)
            and str(to_checksum_address(entry["address"])) == self.contract
            and start <= int(entry["blockNumber"]) <= end
        ]
        times = await self._block_times_for({int(entry["blockNumber"]) for entry in wanted})
        decoded = [decode_transfer(entry, times[int(entry["blockNumber"])]) for entry in wanted]
        unique = {(t.tx_hash, t.log_index): t for t in decoded if t.to_address in ours}
        return sorted(unique.values(), key=lambda t: (t.block_number, t.log_index))

    async def unconfirmed_transfers(
        self, start: int, end: int, addresses: frozenset[str]
    ) -> list[ChainTransfer]:
        """The same logs under the confirmation depth. Read again on every
        poll (one eth_getLogs per chunk of recipients): a reorg there is
        ordinary, and a log it removed must stop being shown as seen."""
        return await self.transfers(start, end, addresses)

    async def transaction(self, tx_hash: str) -> TxLookup:
        """The tx and all its Transfer logs, for supplement: not found, not
        final (pending or under the confirmation depth), failed, or final."""
        wire_hash: Any = "0x" + normalize_tx_hash(tx_hash)
        try:
            receipt = await self._call(
                "eth_getTransactionReceipt", lambda w3: w3.eth.get_transaction_receipt(wire_hash)
            )
        except TransactionNotFound:
            try:
                await self._call("eth_getTransactionByHash", lambda w3: w3.eth.get_transaction(wire_hash))
            except TransactionNotFound:
                return TxLookup(found=False)
            return TxLookup(found=True, final=False)  # known but not mined yet
        number = int(receipt["blockNumber"])
        heads = await self.heads()
        when = await self.block_time(number)
        success = int(receipt["status"]) == 1
        transfers = tuple(
            decode_transfer(entry, when, success=success)
            for entry in receipt["logs"]
            if is_erc20_transfer(entry)
        )
        return TxLookup(
            found=True,
            block_number=number,
            block_time=when,
            success=success,
            final=number <= heads.final,
            transfers=transfers,
            head=heads.head,
            final_head=heads.final,
        )
