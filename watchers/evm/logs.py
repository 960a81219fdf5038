"""Decoding ERC20 Transfer logs into ChainTransfer (no ABI machinery needed:
two indexed addresses in topics 1 and 2, the amount in 32 bytes of data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eth_utils.address import to_checksum_address

from engine.addresses import normalize_tx_hash
from engine.chain import ChainTransfer

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def hex_of(value: Any) -> str:
    """0x-prefixed lower-case hex of HexBytes / bytes / str."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def address_topic(address: str) -> str:
    """The 32-byte topic of an indexed address."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def topic_address(topic: Any) -> str:
    return str(to_checksum_address("0x" + hex_of(topic)[-40:]))


def is_erc20_transfer(log: Mapping[str, Any]) -> bool:
    """Transfer(address,address,uint256) with both addresses indexed; ERC721
    shares the signature but indexes the token id too (4 topics)."""
    topics = log.get("topics") or []
    data = hex_of(log.get("data", b""))
    return len(topics) == 3 and hex_of(topics[0]) == TRANSFER_TOPIC and len(data) == 66


def decode_transfer(log: Mapping[str, Any], block_time: datetime, *, success: bool = True) -> ChainTransfer:
    topics = log["topics"]
    return ChainTransfer(
        chain="eth",
        tx_hash=normalize_tx_hash(hex_of(log["transactionHash"])),
        log_index=int(log["logIndex"]),
        block_number=int(log["blockNumber"]),
        block_time=block_time,
        from_address=topic_address(topics[1]),
        to_address=topic_address(topics[2]),
        token_contract=str(to_checksum_address(log["address"])),
        amount_units=int(hex_of(log["data"]), 16),
        success=success,
    )
