"""Decoding java-tron HTTP API answers into engine.chain data.

Logs are decoded here rather than with tronpy's `events.Transfer.parse_logs`,
which compares the log's 20-byte hex address with a base58 address and so
never matches (DESIGN.md, pinned facts). Forms on the wire:

- `contract_address` of a transaction info: 41-prefixed hex;
- `log[].address`: 20-byte hex without the 41 prefix;
- `log[].topics`: 32-byte words as bare hex, an address in the low 20 bytes;
- `log[].data`: the amount as one 32-byte word;
- times: milliseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.addresses import normalize_tx_hash, tron_from_hex, tron_to_bytes
from engine.chain import ChainTransfer
from engine.errors import BadInput

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MalformedAnswer(ValueError):
    """The node answered 200 with something that is not the documented shape."""


def ms_to_datetime(ms: object) -> datetime:
    # Integer arithmetic: no float rounding of the millisecond timestamp.
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        raise MalformedAnswer(f"bad timestamp {ms!r}")
    return EPOCH + timedelta(milliseconds=ms)


def bare_hex20(address: str) -> str:
    """Any TRON address form → 20-byte lower-case hex (the log form)."""
    text = address.strip()
    if text.startswith("T"):
        return tron_to_bytes(text).hex()
    text = text.lower().removeprefix("0x")
    return text[2:] if len(text) == 42 and text.startswith("41") else text


def hex20_set(addresses: Iterable[str]) -> frozenset[str]:
    return frozenset(bare_hex20(a) for a in addresses)


def block_header(block: object) -> tuple[int, datetime]:
    """(number, time) of a block from getnowblock / getblockbynum."""
    if not isinstance(block, dict):
        raise MalformedAnswer("a block answer is not a JSON object")
    try:
        raw = block["block_header"]["raw_data"]
        number = raw["number"]
    except (KeyError, TypeError) as exc:
        raise MalformedAnswer("a block answer has no block_header.raw_data.number") from exc
    if not isinstance(number, int) or isinstance(number, bool):
        raise MalformedAnswer(f"bad block number {number!r}")
    return number, ms_to_datetime(raw.get("timestamp"))


def tx_infos(answer: object, number: int) -> list[dict[str, Any]]:
    """Validate a gettransactioninfobyblocknum answer; `[]` and `{}` both mean an empty block."""
    if answer == {} or answer == []:
        return []
    if not isinstance(answer, list):
        raise MalformedAnswer(f"block {number}: expected a list of transaction infos")
    for entry in answer:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise MalformedAnswer(f"block {number}: a transaction info without id")
        if entry.get("blockNumber") != number:
            raise MalformedAnswer(
                f"block {number}: the node answered infos of block {entry.get('blockNumber')!r}"
            )
    return answer


def succeeded(info: dict[str, Any]) -> bool:
    """A contract call counts only with receipt.result SUCCESS (and no FAILED result)."""
    receipt = info.get("receipt")
    return isinstance(receipt, dict) and receipt.get("result") == "SUCCESS" and info.get("result") != "FAILED"


def _transfer_words(log: object) -> tuple[str, str, str, str] | None:
    """(contract, from word, to word, amount word) of a standard Transfer log, else None.

    A Transfer with 4 topics (ERC721-style) or a data field that is not one
    word is not a token transfer of a 6-decimal USDT: skip it."""
    if not isinstance(log, dict):
        return None
    topics = log.get("topics")
    data = log.get("data")
    if not isinstance(topics, list) or len(topics) != 3 or not isinstance(data, str) or len(data) != 64:
        return None
    if not isinstance(topics[0], str) or topics[0].lower() != TRANSFER_TOPIC:
        return None
    contract, sender, recipient = log.get("address"), topics[1], topics[2]
    if not (isinstance(contract, str) and isinstance(sender, str) and isinstance(recipient, str)):
        return None
    return bare_hex20(contract), sender, recipient, data


def iter_transfers(
    info: dict[str, Any], *, contract_hex: str | None, recipients_hex: frozenset[str] | None
) -> Iterator[ChainTransfer]:
    """The Transfer logs of one transaction info, optionally filtered by token
    contract (20-byte hex) and recipient (20-byte hex). `log_index` is the
    log's position in the transaction, the same whether the tx came from a
    block scan or a lookup by hash."""
    logs = info.get("log")
    if not isinstance(logs, list):
        return
    ok = succeeded(info)
    for index, log in enumerate(logs):
        words = _transfer_words(log)
        if words is None:
            continue
        contract, sender, recipient, data = words
        if contract_hex is not None and contract != contract_hex:
            continue
        if recipients_hex is not None and recipient[-40:].lower() not in recipients_hex:
            continue
        try:
            amount = int(data, 16)
            transfer = ChainTransfer(
                chain="tron",
                tx_hash=normalize_tx_hash(info["id"]),
                log_index=index,
                block_number=int(info["blockNumber"]),
                block_time=ms_to_datetime(info.get("blockTimeStamp")),
                from_address=tron_from_hex(sender[-40:]),
                to_address=tron_from_hex(recipient[-40:]),
                token_contract=tron_from_hex(contract),
                amount_units=amount,
                success=ok,
            )
        except (ValueError, KeyError, BadInput) as exc:
            raise MalformedAnswer(f"tx {info.get('id')!r}: undecodable Transfer log") from exc
        yield transfer


def block_transfers(
    infos: list[dict[str, Any]], *, contract_hex: str, recipients_hex: frozenset[str]
) -> list[ChainTransfer]:
    """Successful transfers of the USDT contract to our addresses in one block."""
    found: list[ChainTransfer] = []
    for info in infos:
        if "log" not in info or not succeeded(info):
            continue
        found.extend(iter_transfers(info, contract_hex=contract_hex, recipients_hex=recipients_hex))
    return found
