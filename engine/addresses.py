"""Address validation and conversion for TRON (base58check) and EVM (EIP-55)."""

from __future__ import annotations

import hashlib

import base58
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address

from engine.errors import BadInput

TRON_PREFIX = b"\x41"


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def tron_to_bytes(address: str) -> bytes:
    """Base58check TRON address → the 20-byte account id (without 0x41)."""
    try:
        raw = base58.b58decode(address)
    except ValueError as exc:
        raise BadInput(f"not a TRON address (bad base58): {address[:64]!r}") from exc
    if len(raw) != 25 or raw[:1] != TRON_PREFIX or _checksum(raw[:21]) != raw[21:]:
        raise BadInput(f"not a TRON address (length, prefix or checksum): {address[:64]!r}")
    return raw[1:21]


def tron_from_bytes(account: bytes) -> str:
    if len(account) != 20:
        raise ValueError("a TRON account id has 20 bytes")
    payload = TRON_PREFIX + account
    return base58.b58encode(payload + _checksum(payload)).decode()


def tron_from_hex(value: str) -> str:
    """Accept the node's forms: 41-prefixed hex (42 chars) or bare 20-byte hex
    (40 chars, as in event logs), with or without 0x."""
    text = value[2:] if value.lower().startswith("0x") else value
    if len(text) == 42 and text[:2] == "41":
        text = text[2:]
    if len(text) == 64:  # a 32-byte log topic: the address is its last 20 bytes
        text = text[24:]
    if len(text) != 40:
        raise BadInput(f"not a TRON hex address: {value[:70]!r}")
    return tron_from_bytes(bytes.fromhex(text))


def tron_to_hex41(address: str) -> str:
    return "41" + tron_to_bytes(address).hex()


def normalize_evm(address: str, *, strict_checksum: bool = True) -> str:
    """Return the EIP-55 form. Mixed-case input must carry a valid checksum;
    all-lower or all-upper input has none to check."""
    if not is_hex_address(address):
        raise BadInput(f"not an EVM address: {address[:64]!r}")
    body = address[2:]
    mixed = body != body.lower() and body != body.upper()
    if strict_checksum and mixed and not is_checksum_address(address):
        raise BadInput(f"EVM address has a wrong EIP-55 checksum: {address}")
    return str(to_checksum_address(address))


def normalize(chain: str, address: str) -> str:
    """The canonical form stored in the database for `chain`."""
    address = address.strip()
    if chain == "tron":
        tron_to_bytes(address)
        return address
    if chain == "eth":
        return normalize_evm(address)
    raise BadInput(f"unknown chain {chain!r}: use tron or eth")


def normalize_tx_hash(value: str) -> str:
    """Lower-case hex without 0x: EVM and TRON hashes compare the same way."""
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadInput("hash must be 64 hex digits (a 32-byte transaction hash), with or without 0x")
    return text
