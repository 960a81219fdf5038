"""A deterministic TRON chain for the node simulator (tests/fakes/tron_node.py).

Every block is generated from (seed, number): unrelated USDT transfers
between random accounts, other tokens' Transfer and Approval logs, DEX-like
swaps, plain TRX transfers and reverted USDT calls, in the shapes a real
java-tron node answers (`gettransactioninfobyblocknum` entries with `id`,
`blockNumber`, `blockTimeStamp`, `contract_address` as 41-hex, `receipt`,
`log` with 20-byte hex addresses and bare hex topics).

Tests add the transfers they care about with `add_transfer` at a block of
their choosing; `transfers_to` lists what a correct reader must find.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine.addresses import tron_from_bytes, tron_to_bytes

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
APPROVAL_TOPIC = "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
SWAP_TOPIC = "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
# Other real TRC20 tokens whose logs fill the blocks (USDC, WTRX) and a router.
OTHER_TOKENS = ("TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", "TNUC9Qb1rRpS5CbWLmNMxXBjyFoydXjWFR")
ROUTER = "TKzxdSv2FZKQrEqkKVgp5DcwEXBEKMg2Ax"
BLOCK_MS = 3000


@functools.lru_cache(maxsize=4096)
def hex20(address: str) -> str:
    """Base58 → the 20-byte hex form used in logs."""
    return tron_to_bytes(address).hex()


def hex41(address: str) -> str:
    return "41" + hex20(address)


def word(value: int) -> str:
    return format(value, "064x")


def address_word(address: str) -> str:
    return "0" * 24 + hex20(address)


ROUTER_WORD = address_word(ROUTER)


def random_account(rng: random.Random) -> str:
    return tron_from_bytes(rng.randbytes(20))


def random_word(rng: random.Random) -> str:
    """A random account as a log topic, without a base58 round trip (noise is hot)."""
    return "0" * 24 + rng.randbytes(20).hex()


def watched_address(index: int, seed: int = 0) -> str:
    """Deterministic receiving addresses shared by benchmarks and the simulator CLI."""
    return tron_from_bytes(hashlib.sha256(f"watched:{seed}:{index}".encode()).digest()[:20])


@dataclass(frozen=True)
class PlannedTransfer:
    """A transfer a test put on the chain; `log_index` is its position in the tx's log list."""

    block: int
    tx_hash: str
    log_index: int
    to: str
    sender: str
    amount_units: int
    contract: str = USDT
    success: bool = True


class TronChain:
    """The chain state shared by one or more simulated nodes."""

    def __init__(
        self,
        *,
        seed: int = 7,
        first_block: int = 60_000_000,
        head: int | None = None,
        genesis_ms: int = 1_767_225_600_000,  # 2026-01-01T00:00:00Z
        noise_usdt: int = 12,
        noise_other: int = 6,
        solid_lag: int = 19,
        empty_every: int = 0,
        recipients: list[str] | None = None,
        ours_per_block: int = 0,
    ) -> None:
        self.seed = seed
        self.first_block = first_block
        self.head = head if head is not None else first_block + 100
        self.genesis_ms = genesis_ms
        self.noise_usdt = noise_usdt
        self.noise_other = noise_other
        self.solid_lag = solid_lag
        self.empty_every = empty_every
        self.recipients = recipients or []
        self.ours_per_block = ours_per_block
        self.planned: dict[int, list[dict[str, Any]]] = {}
        self.planned_transfers: list[PlannedTransfer] = []
        self._lock = threading.Lock()
        self._rendered: OrderedDict[int, bytes] = OrderedDict()
        self._tx_index: dict[str, int] = {}

    # -- time and heads -------------------------------------------------
    @property
    def solid(self) -> int:
        return self.head - self.solid_lag

    def advance(self, blocks: int = 1) -> int:
        with self._lock:
            self.head += blocks
            return self.head

    def block_ms(self, number: int) -> int:
        return self.genesis_ms + (number - self.first_block) * BLOCK_MS

    def tx_id(self, number: int, index: int, salt: str = "") -> str:
        return hashlib.sha256(f"{self.seed}:{number}:{index}:{salt}".encode()).hexdigest()

    # -- what tests put on chain ----------------------------------------
    def add_transfer(
        self,
        block: int,
        to: str,
        amount_units: int,
        *,
        sender: str | None = None,
        contract: str = USDT,
        success: bool = True,
        via_router: bool = False,
    ) -> PlannedTransfer:
        """Put a TRC20 Transfer to `to` into `block`. `via_router` wraps it in
        a swap so the tx's contract_address is not the token and the Transfer
        is not the first log; a failed one is reverted and carries no log."""
        with self._lock:
            entries = self.planned.setdefault(block, [])
            tx_hash = self.tx_id(block, len(entries), salt="planned")
            rng = random.Random(tx_hash)
            sender = sender or random_account(rng)
            transfer_log = _log(
                contract, [TRANSFER_TOPIC, address_word(sender), address_word(to)], amount_units
            )
            logs = [transfer_log]
            if via_router:
                swap = _log(ROUTER, [SWAP_TOPIC, address_word(sender)], amount_units, extra_words=3)
                logs = [_log(OTHER_TOKENS[1], [TRANSFER_TOPIC, address_word(sender), ROUTER_WORD], 5), swap]
                logs.append(transfer_log)
            target = ROUTER if via_router else contract
            entry = _info(tx_hash, block, self.block_ms(block), target, logs if success else [], success)
            entries.append(entry)
            planned = PlannedTransfer(
                block, tx_hash, len(logs) - 1, to, sender, amount_units, contract, success
            )
            self.planned_transfers.append(planned)
            self._rendered.pop(block, None)
            self._tx_index[tx_hash] = block
            return planned

    def drop_transfer(self, planned: PlannedTransfer) -> None:
        """A fork replaced the transfer's block before it was solidified: the
        transaction is gone from every view, full node and solidity node."""
        with self._lock:
            if planned.block <= self.head - self.solid_lag:
                raise ValueError(f"block {planned.block} is solidified: it is never replaced")
            entries = self.planned.get(planned.block, [])
            self.planned[planned.block] = [e for e in entries if e["id"] != planned.tx_hash]
            self.planned_transfers.remove(planned)
            self._rendered.pop(planned.block, None)
            self._tx_index.pop(planned.tx_hash, None)

    def transfers_to(self, addresses: set[str], start: int, end: int) -> list[tuple[str, int, str, int]]:
        """(tx hash, log index, recipient, amount) of successful USDT transfers to `addresses`."""
        ours = {hex20(a): a for a in addresses}
        found = []
        for number in range(start, end + 1):
            for entry in self.tx_infos(number):
                if entry.get("receipt", {}).get("result") != "SUCCESS":
                    continue
                for index, log in enumerate(entry.get("log", [])):
                    topics = log["topics"]
                    recipient = ours.get(topics[2][24:]) if len(topics) == 3 else None
                    if log["address"] == hex20(USDT) and topics[0] == TRANSFER_TOPIC and recipient:
                        found.append((entry["id"], index, recipient, int(log["data"], 16)))
        return found

    # -- what nodes serve -----------------------------------------------
    def tx_infos(self, number: int) -> list[dict[str, Any]]:
        if self.empty_every and number % self.empty_every == 0 and number not in self.planned:
            return []
        rng = random.Random(self.seed * 1_000_003 + number)
        ms = self.block_ms(number)
        entries = [self._noise(rng, number, ms, i) for i in range(self.noise_usdt + self.noise_other)]
        for i in range(self.ours_per_block):
            to = self.recipients[rng.randrange(len(self.recipients))]
            log = _log(USDT, [TRANSFER_TOPIC, random_word(rng), address_word(to)], 0)
            log["data"] = word(rng.randrange(1_000_000, 5_000_000_000))
            entries.append(_info(self.tx_id(number, i, "ours"), number, ms, USDT, [log], True))
        rng.shuffle(entries)
        with self._lock:
            entries.extend(self.planned.get(number, []))
        return entries

    def tx_infos_json(self, number: int) -> bytes:
        """Rendered once per block (a bounded cache), so serving stays cheap."""
        with self._lock:
            cached = self._rendered.get(number)
            if cached is not None:
                self._rendered.move_to_end(number)
                return cached
        body = json.dumps(self.tx_infos(number), separators=(",", ":")).encode()
        with self._lock:
            self._rendered[number] = body
            while len(self._rendered) > 512:
                self._rendered.popitem(last=False)
        return body

    def find_tx(self, tx_hash: str) -> dict[str, Any] | None:
        block = self._tx_index.get(tx_hash)
        if block is None:
            return None
        return next((e for e in self.tx_infos(block) if e["id"] == tx_hash), None)

    def block(self, number: int, *, with_txs: bool = True) -> dict[str, Any]:
        """A block as /wallet/getblockbynum answers it (empty blocks have no `transactions`)."""
        parent = hashlib.sha256(f"{self.seed}:block:{number - 1}".encode()).hexdigest()
        own = hashlib.sha256(f"{self.seed}:block:{number}".encode()).hexdigest()
        raw = {
            "number": number,
            "txTrieRoot": hashlib.sha256(own.encode()).hexdigest(),
            "witness_address": "41" + own[:40],
            "parentHash": format(number - 1, "016x") + parent[16:],
            "version": 32,
            "timestamp": self.block_ms(number),
        }
        block: dict[str, Any] = {
            "blockID": format(number, "016x") + own[16:],
            "block_header": {"raw_data": raw, "witness_signature": own * 2 + "00"},
        }
        infos = self.tx_infos(number) if with_txs else []
        if infos:
            block["transactions"] = [_transaction(e, self.block_ms(number)) for e in infos]
        return block

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        info = self.find_tx(tx_hash)
        return None if info is None else _transaction(info, info["blockTimeStamp"])

    def _noise(self, rng: random.Random, number: int, ms: int, i: int) -> dict[str, Any]:
        tx_hash = self.tx_id(number, i)
        if i < self.noise_usdt:
            if rng.random() < 0.03:  # a reverted USDT call: no logs, REVERT receipt
                return _info(tx_hash, number, ms, USDT, [], False)
            log = _log(USDT, [TRANSFER_TOPIC, random_word(rng), random_word(rng)], rng.randrange(1, 10**11))
            return _info(tx_hash, number, ms, USDT, [log], True)
        kind = rng.randrange(3)
        a, b = random_word(rng), random_word(rng)
        if kind == 0:  # plain TRX transfer: no contract, no logs, bandwidth-only receipt
            return {
                "id": tx_hash,
                "blockNumber": number,
                "blockTimeStamp": ms,
                "contractResult": [""],
                "receipt": {"net_usage": 268},
            }
        token = OTHER_TOKENS[rng.randrange(len(OTHER_TOKENS))]
        if kind == 1:  # another token's Transfer and an Approval of USDT (not a transfer)
            logs = [
                _log(token, [TRANSFER_TOPIC, a, b], rng.randrange(1, 10**9)),
                _log(USDT, [APPROVAL_TOPIC, a, ROUTER_WORD], 2**256 - 1),
            ]
            return _info(tx_hash, number, ms, token, logs, True)
        logs = [  # a swap through the router: USDT moves between router and trader
            _log(token, [TRANSFER_TOPIC, a, ROUTER_WORD], rng.randrange(1, 10**9)),
            _log(USDT, [TRANSFER_TOPIC, ROUTER_WORD, a], rng.randrange(1, 10**9)),
            _log(ROUTER, [SWAP_TOPIC, a], rng.randrange(1, 10**9), extra_words=3),
        ]
        return _info(tx_hash, number, ms, ROUTER, logs, True)


def _log(contract: str, topics: list[str], amount: int, extra_words: int = 0) -> dict[str, Any]:
    data = word(amount) + word(0) * extra_words
    return {"address": hex20(contract), "topics": topics, "data": data}


def _info(
    tx_hash: str, number: int, ms: int, contract: str, logs: list[dict[str, Any]], success: bool
) -> dict[str, Any]:
    """A TransactionInfo entry as java-tron renders it for a TriggerSmartContract."""
    receipt: dict[str, Any] = {
        "energy_fee": 6_379_650 if success else 1_200_000,
        "energy_usage_total": 64_285 if success else 12_000,
        "net_usage": 345,
        "result": "SUCCESS" if success else "REVERT",
    }
    entry: dict[str, Any] = {
        "id": tx_hash,
        "fee": receipt["energy_fee"] + 345_000,
        "blockNumber": number,
        "blockTimeStamp": ms,
        "contractResult": [word(1) if success else ""],
        "contract_address": hex41(contract),
        "receipt": receipt,
    }
    if logs:
        entry["log"] = logs
    if not success:
        entry["result"] = "FAILED"
        entry["resMessage"] = (
            "5452433230426173653a207472616e7366657220616d6f756e74206578636565647320626c616e6365"
        )
    return entry


def _transaction(info: dict[str, Any], ms: int) -> dict[str, Any]:
    """A transaction as /wallet/gettransactionbyid renders it (visible=false)."""
    contract = info.get("contract_address")
    ret = info.get("receipt", {}).get("result", "SUCCESS")
    if contract is None:
        kind, value = (
            "TransferContract",
            {
                "amount": 1_000_000,
                "owner_address": "41" + info["id"][:40],
                "to_address": "41" + info["id"][24:],
            },
        )
    else:
        kind, value = (
            "TriggerSmartContract",
            {
                "data": "a9059cbb" + "0" * 128,
                "owner_address": "41" + info["id"][:40],
                "contract_address": contract,
            },
        )
    raw = {
        "contract": [
            {"parameter": {"value": value, "type_url": f"type.googleapis.com/protocol.{kind}"}, "type": kind}
        ],
        "ref_block_bytes": info["id"][:4],
        "ref_block_hash": info["id"][4:20],
        "expiration": ms + 60_000,
        "fee_limit": 100_000_000,
        "timestamp": ms - 1_500,
    }
    return {
        "ret": [{"contractRet": ret}],
        "signature": [info["id"] * 2 + "1b"],
        "txID": info["id"],
        "raw_data": raw,
        "raw_data_hex": "0a02" + info["id"],
    }
