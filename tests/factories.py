"""The one module of test builders: merchants, wallets, orders, transfers.

Each builder has working defaults and takes keyword overrides, so a test
names only what it is about. `make_*` builders write through the real
engine services and commit; `*_row` builders return detached ORM rows for
pure tests that never touch a database.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.addresses import tron_from_bytes
from engine.chain import ChainTransfer
from engine.clock import ManualClock
from engine.config import ETH_USDT_CONTRACT, OrderSettings, Settings
from engine.merchants import add_merchant, add_wallet, get_merchant
from engine.models import Merchant, Order, Transfer, Wallet
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.signing import md5_sign
from tests.dbharness import Db

MERCHANT_PID = "10001"
MERCHANT_KEY = "test-merchant-key-0123456789abcdef"
# The X-Api-Key secret is not the signing key (engine.merchant_keys).
MERCHANT_API_KEY = "test-api-key-fedcba9876543210"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORDER_SETTINGS = OrderSettings(expire_minutes=30, late_window_minutes=30)
_numbers = itertools.count(1)


def tron_address(n: int) -> str:
    return tron_from_bytes(n.to_bytes(20, "big"))


def eth_address(n: int) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address("0x" + n.to_bytes(20, "big").hex()))


PAYER = eth_address(0xBEEF)


def api_key_for(key: str) -> str:
    """The API key make_merchant gives a merchant with signing key `key`."""
    return MERCHANT_API_KEY if key == MERCHANT_KEY else f"api-{key}"


async def make_merchant(
    db: Db, pid: str = MERCHANT_PID, key: str = MERCHANT_KEY, name: str = "Test shop"
) -> Merchant:
    async with db.sessions() as session:
        merchant = await add_merchant(session, pid, key, name, datetime.now(UTC), api_key=api_key_for(key))
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


def new_order(**overrides: Any) -> NewOrder:
    """A create request: 10 USDT on Ethereum from the usdt face by default."""
    values: dict[str, Any] = {
        "face": "usdt",
        "merchant_order_no": f"T{next(_numbers)}",
        "currency": Currency.USDT,
        "amount_units": 10_000_000,
        "chain": "eth",
        "notify_url": "https://merchant.example/notify",
    }
    values.update(overrides)
    return NewOrder(**values)


def order_settings(rate: Decimal | None = None, orders: OrderSettings = ORDER_SETTINGS) -> Settings:
    """Settings to create orders with through engine.orders.service: a fixed
    CNY rate when given; without one a CNY order on a chain finds no rate
    (503), as a deployment whose rate sources never answered."""
    return Settings(rate_fixed=rate, orders=orders)


async def make_order(
    db: Db,
    *,
    merchant: Merchant | None = None,
    now: datetime = T0,
    settings: OrderSettings = ORDER_SETTINGS,
    rate: Decimal | None = None,
    **overrides: Any,
) -> Order:
    """An order created through the order service and committed. Needs a
    merchant (the default one unless given) and a wallet on its chain."""
    new = new_order(**overrides)
    async with db.sessions() as session:
        owner = merchant or await get_merchant(session, MERCHANT_PID)
    assert owner is not None, "call tests.factories.make_merchant first"
    order, _ = await create_order(
        db.work, owner, new, settings=order_settings(rate, settings), clock=ManualClock(now)
    )
    return order


def order_row(**overrides: Any) -> Order:
    """A detached, pending USDT order row on TRON (no database)."""
    created = overrides.pop("created_at", T0)
    units = overrides.pop("usdt_units", 10_000_000)
    values: dict[str, Any] = {
        "id": 1_000_000 + next(_numbers),
        "merchant_id": 1,
        "merchant_order_no": f"M{next(_numbers)}",
        "face": "usdt",
        "currency": "USDT",
        "usdt_price_units": units,
        "usdt_units": units,
        "chain": "tron",
        "address": tron_address(1),
        "status": "pending",
        "paid_late": False,
        "created_at": created,
        "expires_at": created + timedelta(minutes=30),
        "extra": {},
    }
    values.update(overrides)
    return Order(**values)


def chain_transfer(**overrides: Any) -> ChainTransfer:
    """A decoded USDT Transfer log: 10 USDT on Ethereum by default."""
    values: dict[str, Any] = {
        "chain": "eth",
        "tx_hash": f"{next(_numbers):064x}",
        "log_index": 0,
        "block_number": 1000,
        "block_time": T0 + timedelta(minutes=5),
        "from_address": PAYER,
        "to_address": eth_address(1),
        "token_contract": ETH_USDT_CONTRACT,
        "amount_units": 10_000_000,
    }
    values.update(overrides)
    return ChainTransfer(**values)


def paying(order: Order, *, at: datetime | None = None, **changes: Any) -> ChainTransfer:
    """A transfer of exactly the order's amount to its address, in its window."""
    assert order.address is not None and order.usdt_units is not None
    base = chain_transfer(
        chain=order.chain or "eth",
        block_time=at or order.created_at + timedelta(minutes=5),
        to_address=order.address,
        amount_units=order.usdt_units,
    )
    return replace(base, **changes)


def transfer_row(
    t: ChainTransfer, order_id: int | None = None, *, reason: str | None = None, **changes: Any
) -> Transfer:
    """The `transfers` row settlement would write for `t` (detached)."""
    values: dict[str, Any] = {
        "chain": t.chain,
        "tx_hash": t.tx_hash,
        "log_index": t.log_index,
        "block_number": t.block_number,
        "block_time": t.block_time,
        "from_address": t.from_address,
        "to_address": t.to_address,
        "token_contract": t.token_contract,
        "amount_units": t.amount_units,
        "order_id": order_id,
        "status": "matched" if order_id is not None and reason is None else "unmatched",
        "reason": reason,
        "source": "watcher",
        "created_at": t.block_time,
    }
    values.update(changes)
    return Transfer(**values)
