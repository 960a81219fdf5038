"""Small async factories for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.addresses import tron_from_bytes
from engine.merchants import add_merchant, add_wallet
from engine.models import Merchant, Wallet
from engine.signing import md5_sign
from tests.dbharness import Db

MERCHANT_PID = "10001"
MERCHANT_KEY = "test-merchant-key-0123456789abcdef"


def tron_address(n: int) -> str:
    return tron_from_bytes(n.to_bytes(20, "big"))


def eth_address(n: int) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address("0x" + n.to_bytes(20, "big").hex()))


async def make_merchant(
    db: Db, pid: str = MERCHANT_PID, key: str = MERCHANT_KEY, name: str = "Test shop"
) -> Merchant:
    async with db.sessions() as session:
        merchant = await add_merchant(session, pid, key, name, datetime.now(UTC))
        await session.commit()
        return merchant


async def make_wallets(db: Db, chain: str, count: int = 1, start: int = 1) -> list[Wallet]:
    make = tron_address if chain == "tron" else eth_address
    async with db.sessions() as session:
        wallets = [await add_wallet(session, chain, make(start + i), datetime.now(UTC)) for i in range(count)]
        await session.commit()
        return wallets


def signed(fields: dict[str, Any], key: str = MERCHANT_KEY) -> dict[str, Any]:
    return {**fields, "signature": md5_sign(fields, key)}
