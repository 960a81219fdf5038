"""A world for exchange-order tests: simulators, a registered receiving
account per exchange, type 2 orders, and the watcher."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from engine.config import ExchangeSettings, OrderSettings, Settings
from engine.exchanges.accounts import Credentials, register_account
from engine.exchanges.ports import PLAT_OF
from engine.models import ExchangeAccount, Notification, Order, Transfer
from tests.dbharness import Db
from tests.factories import make_order
from tests.fakes.exchanges.binance_sim import BinanceSim
from tests.fakes.exchanges.htx_sim import HtxSim
from tests.fakes.exchanges.okx_sim import OkxSim
from watchers.exchanges.build import reader_for

ORDERS = OrderSettings(expire_minutes=30, late_window_minutes=30)
_numbers = itertools.count(1)


@dataclass
class Sims:
    okx: OkxSim
    binance: BinanceSim
    htx: HtxSim

    def of(self, exchange: str) -> Any:
        return getattr(self, exchange)


@contextmanager
def running_sims() -> Iterator[Sims]:
    with OkxSim() as okx, BinanceSim() as binance, HtxSim() as htx:
        yield Sims(okx, binance, htx)


@pytest.fixture
def sims() -> Iterator[Sims]:
    with running_sims() as running:
        yield running


def settings_for(db: Db, sims: Sims, **exchanges: Any) -> Settings:
    group = ExchangeSettings(
        okx_url=sims.okx.url,
        binance_url=sims.binance.url,
        htx_url=sims.htx.url,
        timeout_seconds=2.0,
        **exchanges,
    )
    return Settings(database_url=db.url, log_json=False, orders=ORDERS, exchanges=group)


def credentials(sims: Sims, exchange: str, **key: Any) -> Credentials:
    if exchange == "okx":
        k = sims.okx.add_key(**key)
        return Credentials(k.api_key, k.secret, k.passphrase)
    if exchange == "binance":
        b = sims.binance.add_key(**key)
        return Credentials(b.api_key, b.secret)
    h = sims.htx.add_key(**key)
    return Credentials(h.access_key, h.secret)


async def add_account(
    db: Db, settings: Settings, exchange: str, creds: Credentials, now: datetime
) -> ExchangeAccount:
    """What `usdtpay exchange add` does: check the key at the exchange, then store it."""
    reader = reader_for(exchange, creds, settings)
    try:
        check = await reader.check_key()
    finally:
        await reader.aclose()
    async with db.sessions() as session:
        account = await register_account(
            session, creds, check, secrets_key=settings.exchanges.secrets_key.get_secret_value(), now=now
        )
        await session.commit()
        return account


async def exchange_order(db: Db, exchange: str, now: datetime, price_units: int = 10_000_000) -> Order:
    return await make_order(
        db,
        now=now,
        settings=ORDERS,
        chain=exchange,
        amount_units=price_units,
        merchant_order_no=f"X{next(_numbers)}",
        extra={"type": 2, "plat": PLAT_OF[exchange]},
    )


def pay(
    sims: Sims, exchange: str, amount: str, when: datetime, *, final: bool = True, currency: str = "USDT"
) -> str:
    """An incoming record at the simulator; returns its record id as usdtpay keeps it."""
    ms = int(when.timestamp() * 1000)
    if exchange == "okx":
        row = sims.okx.add_deposit(amt=amount, ts=ms, ccy=currency, state="2" if final else "0")
        return str(row["depId"])
    if exchange == "binance":
        dep = sims.binance.add_deposit(amount=amount, insert=ms, coin=currency, status=1 if final else 0)
        return "dep:" + str(dep["id"])
    state = "safe" if final else "confirming"
    return str(sims.htx.add_deposit(amount=amount, created=ms, currency=currency.lower(), state=state)["id"])


def make_final(sims: Sims, exchange: str, record_id: str) -> None:
    if exchange == "okx":
        sims.okx.set_state(record_id, "2")
    elif exchange == "binance":
        sims.binance.set_status(record_id.removeprefix("dep:"), 1)
    else:
        sims.htx.set_state(int(record_id), "safe")


def amount_text(order: Order) -> str:
    assert order.usdt_units is not None
    whole, frac = divmod(order.usdt_units, 10**6)
    return f"{whole}.{frac:06d}"


async def order_of(db: Db, order_id: int) -> Order:
    async with db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def transfers_of(db: Db, exchange: str) -> dict[str, Transfer]:
    async with db.sessions() as session:
        rows = await session.scalars(select(Transfer).where(Transfer.chain == exchange))
        return {row.tx_hash: row for row in rows}


async def notifications_of(db: Db, order_id: int) -> list[Notification]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Notification).where(Notification.order_id == order_id)))
