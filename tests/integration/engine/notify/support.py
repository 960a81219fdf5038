"""Helpers for the notification tests: paid orders of each face with their
outbox rows, settings that let the worker reach the loopback receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from engine.config import NotifySettings, Settings
from engine.ids import new_platform_id
from engine.models import ChannelPayment, Merchant, Notification, NotificationAttempt, Order
from engine.notify.outbox import enqueue_order_event
from tests.dbharness import Db

FACE_DEFAULTS: dict[str, dict[str, Any]] = {
    "usdt": {"currency": "CNY", "fiat_fen": 72000, "usdt_units": 100_000_123, "chain": "tron"},
    "dryad": {
        "currency": "CNY",
        "fiat_fen": 10000,
        "channel": "wechat",
        "channel_trade_no": "4200001234567890",
    },
    "quickpay": {
        "currency": "CNY",
        "fiat_fen": 600,
        "channel": "alipay",
        "channel_trade_no": "2025112322001",
    },
}


def notify_settings(db: Db, **notify: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_hosts": ["127.0.0.1"],
        "timeout_seconds": 1.0,
        "poll_seconds": 0.05,
        "workers": 8,
        **notify,
    }
    return Settings(database_url=db.url, log_json=False, notify=NotifySettings(**values))


async def merchant_of(db: Db, pid: str) -> Merchant:
    async with db.sessions() as session:
        merchant = await session.scalar(select(Merchant).where(Merchant.pid == pid))
        assert merchant is not None
        return merchant


async def paid_order(
    db: Db,
    merchant: Merchant,
    face: str,
    notify_url: str,
    now: datetime,
    *,
    order_no: str | None = None,
    **fields: Any,
) -> tuple[Order, Notification]:
    """Settle an order of `face` and write its notification in one commit,
    the way settlement does."""
    order_id = new_platform_id()
    values: dict[str, Any] = {
        **FACE_DEFAULTS[face],
        "id": order_id,
        "merchant_id": merchant.id,
        "merchant_order_no": order_no or f"M{order_id}",
        "face": face,
        "subject": "商品订单支付",
        "status": "paid",
        "created_at": now - timedelta(minutes=2),
        "expires_at": now + timedelta(minutes=28),
        "paid_at": now - timedelta(seconds=5),
        "notify_url": notify_url,
        "param": '{"user_id": "123"}',
        "extra": {},
        **fields,
    }
    async with db.sessions() as session:
        order = Order(**values)
        session.add(order)
        await session.flush()
        row = await enqueue_order_event(session, order, merchant, "paid", now)
        assert row is not None
        await session.commit()
    return order, row


async def add_payment(db: Db, order: Order, now: datetime) -> int:
    payment_id = new_platform_id()
    async with db.sessions() as session:
        session.add(
            ChannelPayment(
                id=payment_id,
                order_id=order.id,
                channel=order.channel or "wechat",
                client_type="NATIVE",
                out_trade_no=f"P{payment_id}",
                status="paid",
                amount_fen=order.fiat_fen or 0,
                created_at=now,
            )
        )
        await session.commit()
    return payment_id


async def notifications(db: Db) -> list[Notification]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


async def attempts_of(db: Db, notification_id: int) -> list[NotificationAttempt]:
    async with db.sessions() as session:
        stmt = (
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id == notification_id)
            .order_by(NotificationAttempt.attempt_no, NotificationAttempt.id)
        )
        return list((await session.scalars(stmt)).all())


async def eventually(check: Callable[[], bool], *, within: float = 10.0, what: str = "condition") -> None:
    """Wait (polling) for something another thread or process does."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.02)


async def all_delivered(db: Db, count: int, *, within: float = 30.0) -> None:
    """Wait until `count` notifications are recorded as delivered."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with db.sessions() as session:
            done = await session.scalar(
                select(func.count()).select_from(Notification).where(Notification.status == "delivered")
            )
        if done == count:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{done} of {count} notifications delivered after {within} s")
        await asyncio.sleep(0.05)
