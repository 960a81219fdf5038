"""Helpers for the payment attack tests (issue 12 findings 1, 3, 6, 7, 10):
read back everything an attack must not have changed (orders, channel
payments, reservations, outbox), and QuickPay settings for a simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from litestar import Litestar
from pydantic import SecretStr
from sqlalchemy import func, select

from api.http.app import create_app
from api.http.state import AppState
from engine.config import OrderSettings, QuickPaySettings, Settings
from engine.models import ChannelPayment, Notification, Order, Reservation
from tests.dbharness import Db
from tests.factories import MERCHANT_API_KEY, MERCHANT_PID, make_merchant, make_wallets
from tests.fakes.fiat_http import bind_loopback, serve_app, socket_url
from tests.fakes.quickpay_sim import QuickPaySim

API_KEY = {"X-Api-Key": f"{MERCHANT_PID}:{MERCHANT_API_KEY}"}
STORE_NO = "LK100200300"
STORE_KEY = "quickpay-store-key-0123456789"
MERCHANT_NOTIFY = "https://merchant.example/notify"


@dataclass(frozen=True)
class Snapshot:
    """Everything an attack could change, compared before and after."""

    orders: tuple[tuple[Any, ...], ...]
    payments: tuple[tuple[Any, ...], ...]
    reservations: tuple[tuple[Any, ...], ...]
    notifications: int


async def snapshot(db: Db) -> Snapshot:
    async with db.sessions() as session:
        orders = (await session.execute(
            select(Order.id, Order.merchant_id, Order.merchant_order_no, Order.status, Order.chain,
                   Order.channel, Order.usdt_units, Order.address, Order.channel_trade_no,
                   Order.paid_at).order_by(Order.id)
        )).all()  # fmt: skip
        payments = (await session.execute(
            select(ChannelPayment.id, ChannelPayment.status, ChannelPayment.channel_trade_no,
                   ChannelPayment.channel).order_by(ChannelPayment.id)
        )).all()  # fmt: skip
        reservations = (await session.execute(
            select(Reservation.chain, Reservation.address, Reservation.amount_units, Reservation.order_id,
                   Reservation.held_until).order_by(Reservation.id)
        )).all()  # fmt: skip
        notifications = await session.scalar(select(func.count()).select_from(Notification))
    return Snapshot(
        tuple(map(tuple, orders)),
        tuple(map(tuple, payments)),
        tuple(map(tuple, reservations)),
        int(notifications or 0),
    )


async def notifications_for(db: Db, order_id: int) -> list[Notification]:
    async with db.sessions() as session:
        stmt = select(Notification).where(Notification.order_id == order_id)
        return list(await session.scalars(stmt))


def quickpay_settings(sim: QuickPaySim, **overrides: Any) -> QuickPaySettings:
    values: dict[str, Any] = {
        "enabled": True,
        "store_no": STORE_NO,
        "store_key": SecretStr(STORE_KEY),
        "api_base_url": sim.url,
        "timeout_seconds": 2.0,
    }
    return QuickPaySettings.model_validate(values | overrides)


@dataclass
class Served:
    """usdtpay under uvicorn on a loopback port, in the test's event loop:
    requests are real TCP from 127.0.0.1."""

    base_url: str
    app: Litestar
    db: Db

    @property
    def state(self) -> AppState:
        value: AppState = self.app.state.app_state
        return value

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10)


@asynccontextmanager
async def serving(db: Db, **overrides: Any) -> AsyncIterator[Served]:
    """Merchant 10001, two TRON wallets and one Ethereum wallet, then the app;
    `overrides` are Settings fields."""
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    await make_wallets(db, "eth", 1)
    sock = bind_loopback()
    settings = Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        orders=overrides.pop("orders", OrderSettings()).model_copy(
            update={"public_base_url": socket_url(sock)}
        ),
        **overrides,
    )
    app = create_app(settings)
    async with serve_app(app, sock) as url:
        yield Served(url, app, db)
