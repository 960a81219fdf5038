"""The fiat world: the three simulators, usdtpay itself on a loopback port
with the channels pointed at them, a merchant and CNY orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from api.http.app import create_app
from api.http.state import AppState
from engine.clock import SystemClock
from engine.config import (
    AlipaySettings,
    FiatSettings,
    OrderSettings,
    QuickPaySettings,
    Settings,
    WechatSettings,
)
from engine.models import ChannelPayment, Merchant, Notification, Order
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_http import bind_loopback, private_pem, public_pem, serve_app, socket_url
from tests.fakes.fiat_keys import rsa_key
from tests.fakes.quickpay_sim import QuickPaySim
from tests.fakes.wechat_sim import WechatSim

MCHID = "1900009191"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
APIV3_KEY = "a7cde1ef41b8d0b3a2a6f0f8e5c4d3b2"
ALIPAY_APP_ID = "2021000118600001"
SELLER_ID = "2088621955040001"
STORE_NO = "LK100200300"
STORE_KEY = "quickpay-store-key-0123456789"
MERCHANT_NOTIFY = "https://merchant.example/notify"

# The simulators run on loopback, but a loaded CI box once took over 0.5 s to
# connect (ConnectTimeout in an Alipay certificate test); the timeout tests
# delay their answer beyond this instead of relying on a short one.
TIMEOUT_S = 3.0


@pytest.fixture
def wechat_sim() -> Iterator[WechatSim]:
    sim = WechatSim(
        mchid=MCHID,
        appid=APPID,
        merchant_public_key=rsa_key("wechat-merchant").public_key(),
        merchant_serial=MERCHANT_SERIAL,
        apiv3_key=APIV3_KEY,
    )
    with sim:
        yield sim


@pytest.fixture
def alipay_sim() -> Iterator[AlipaySim]:
    with AlipaySim(
        app_id=ALIPAY_APP_ID, seller_id=SELLER_ID, app_public_key=rsa_key("alipay-app").public_key()
    ) as sim:
        yield sim  # type: ignore[misc]


@pytest.fixture
def quickpay_sim() -> Iterator[QuickPaySim]:
    with QuickPaySim(store_no=STORE_NO, store_key=STORE_KEY) as sim:
        yield sim  # type: ignore[misc]


def wechat_settings(sim: WechatSim, tmp_path: Path, **overrides: Any) -> WechatSettings:
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(private_pem(rsa_key("wechat-merchant")))
    values: dict[str, Any] = {
        "enabled": True,
        "mchid": MCHID,
        "appid": APPID,
        "merchant_serial_no": MERCHANT_SERIAL,
        "merchant_private_key": SecretStr(str(key_file)),  # a path, as operators usually give it
        "apiv3_key": SecretStr(APIV3_KEY),
        "verify_mode": "public_key",
        "platform_public_key": public_pem(sim.platform_key.public_key()),
        "platform_public_key_id": sim.public_key_id,
        "api_base_url": sim.url,
        "timeout_seconds": TIMEOUT_S,
    }
    return WechatSettings.model_validate(values | overrides)


def alipay_settings(sim: AlipaySim, **overrides: Any) -> AlipaySettings:
    values: dict[str, Any] = {
        "enabled": True,
        "app_id": ALIPAY_APP_ID,
        "seller_id": SELLER_ID,
        "app_private_key": SecretStr(private_pem(rsa_key("alipay-app"))),
        "alipay_public_key": public_pem(sim.alipay_key.public_key()),
        "gateway_url": sim.gateway,
        "timeout_seconds": TIMEOUT_S,
    }
    return AlipaySettings.model_validate(values | overrides)


def quickpay_settings(sim: QuickPaySim, **overrides: Any) -> QuickPaySettings:
    values: dict[str, Any] = {
        "enabled": True,
        "store_no": STORE_NO,
        "store_key": SecretStr(STORE_KEY),
        "api_base_url": sim.url,
        "timeout_seconds": TIMEOUT_S,
    }
    return QuickPaySettings.model_validate(values | overrides)


@dataclass
class World:
    db: Db
    url: str
    state: AppState
    wechat: WechatSim
    alipay: AlipaySim
    quickpay: QuickPaySim

    async def order(self, fen: int = 10000, no: str = "ORDER20251123001") -> Order:
        async with self.db.sessions() as session:
            merchant = (await session.scalars(select(Merchant))).one()
        new = NewOrder(
            face="dryad",
            merchant_order_no=no,
            currency=Currency.CNY,
            amount_units=fen,
            subject="商品订单支付",
            notify_url=MERCHANT_NOTIFY,
        )
        # A fiat order is never priced in USDT: no rate is read.
        order, _ = await create_order(
            self.db.work, merchant, new, settings=self.state.settings, clock=SystemClock()
        )
        return order

    async def reload(self, order_id: int) -> Order:
        async with self.db.sessions() as session:
            order = await session.get(Order, order_id)
            assert order is not None
            return order

    async def payments(self, order_id: int) -> list[ChannelPayment]:
        async with self.db.sessions() as session:
            stmt = select(ChannelPayment).where(ChannelPayment.order_id == order_id)
            return list(await session.scalars(stmt))

    async def notifications(self, order_id: int) -> int:
        async with self.db.sessions() as session:
            stmt = select(func.count()).select_from(Notification).where(Notification.order_id == order_id)
            return int(await session.scalar(stmt) or 0)


def world_settings(
    db: Db, base_url: str, sims: tuple[WechatSim, AlipaySim, QuickPaySim], tmp_path: Path
) -> Settings:
    wechat, alipay, quickpay = sims
    settings = Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        orders=OrderSettings(public_base_url=base_url),
        wechat=wechat_settings(wechat, tmp_path),
        alipay=alipay_settings(alipay),
        quickpay=quickpay_settings(quickpay),
        fiat=FiatSettings(query_min_age_seconds=0),
    )
    return settings


@pytest.fixture
async def world(
    db: Db, tmp_path: Path, wechat_sim: WechatSim, alipay_sim: AlipaySim, quickpay_sim: QuickPaySim
) -> AsyncIterator[World]:
    await make_merchant(db)
    sock = bind_loopback()
    settings = world_settings(db, socket_url(sock), (wechat_sim, alipay_sim, quickpay_sim), tmp_path)
    app = create_app(settings)
    async with serve_app(app, sock) as url:
        yield World(db, url, app.state.app_state, wechat_sim, alipay_sim, quickpay_sim)
