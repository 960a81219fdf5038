"""The operator console against the real app on loopback: a TRON node
simulator whose blocks are timed around now, a merchant receiver, orders
created through the usdt face, transfers put on the simulated chain and
ingested the way the watcher does, and console accounts with TOTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.admin import service, totp
from engine.config import NotifySettings, TronSettings
from engine.models import Order, Transfer, Wallet
from engine.settlement import ingest, rules_for
from tests.dbharness import Db
from tests.e2e.browser import LiveServer, start_live_server
from tests.factories import MERCHANT_KEY, signed
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import TronNodeSim
from watchers.tron.reader import TronReader

FIRST = 70_000_000
NOW_BLOCK = FIRST + 100  # the block timed at the world's start
PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "admin"


@dataclass
class World:
    server: LiveServer
    chain: TronChain
    node: TronNodeSim
    receiver: MerchantReceiver
    started: datetime
    accounts: dict[str, service.NewAccount] = field(default_factory=dict)

    @property
    def db(self) -> Db:
        return self.server.db

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def at(self, block: int) -> datetime:
        return datetime.fromtimestamp(self.chain.block_ms(block) / 1000, tz=UTC)

    async def add_account(self, username: str, role: str) -> service.NewAccount:
        async with self.db.sessions() as session:
            new = await service.add_account(session, username, PASSWORD, role, datetime.now(UTC))
            await session.commit()
        self.accounts[username] = new
        return new

    async def create_order(self, order_no: str, amount: str = "100.00") -> Order:
        fields = {
            "pid": "10001",
            "chain_type": 1,
            "order_no": order_no,
            "amount": amount,
            "currency": "CNY",
            "notify_url": self.receiver.url("usdt"),
        }
        async with self.server.client() as client:
            resp = await client.post("/api/pay/create", json=signed(fields))
        assert resp.status_code == 200, resp.text
        return await self.order(int(resp.json()["data"]["plat_order_no"]))

    async def order(self, order_id: int) -> Order:
        async with self.db.sessions() as session:
            order = await session.get(Order, order_id)
            assert order is not None
            return order

    async def transfer_by_hash(self, tx_hash: str) -> Transfer:
        async with self.db.sessions() as session:
            row = await session.scalar(select(Transfer).where(Transfer.tx_hash == tx_hash))
            assert row is not None
            return row

    async def watch(self, start: int, end: int) -> None:
        """One watcher step over [start, end]: read the node, ingest, commit."""
        async with self.db.sessions() as session:
            addresses = frozenset(await session.scalars(select(Wallet.address).where(Wallet.chain == "tron")))
        reader = TronReader.from_settings(self.server.settings.tron)
        try:
            transfers = await reader.transfers(start, end, addresses)
        finally:
            await reader.aclose()
        async with self.db.sessions() as session:
            rules = rules_for(self.server.settings, "tron")
            await ingest(session, "tron", transfers, datetime.now(UTC), rules)
            await session.commit()

    def reconcile_env(self) -> dict[str, str]:
        return {
            "USDTPAY_DATABASE_URL": self.db.url,
            "USDTPAY_TRON__ENABLED": "true",
            "USDTPAY_TRON__NODE_URLS": f'["{self.node.url}"]',
            "USDTPAY_TRON__BATCH_BLOCKS": "50",
            "USDTPAY_ETH__ENABLED": "false",
            "USDTPAY_OPS__RECONCILE_RETRY_SECONDS": "0",
        }


@pytest.fixture
async def world(db: Db) -> AsyncIterator[World]:
    started = datetime.now(UTC).replace(microsecond=0)
    genesis = started - timedelta(seconds=(NOW_BLOCK - FIRST) * 3)
    chain = TronChain(
        first_block=FIRST,
        head=FIRST + 400,
        genesis_ms=int(genesis.timestamp() * 1000),
        noise_usdt=2,
        noise_other=1,
    )
    with TronNodeSim(chain) as node, MerchantReceiver(MERCHANT_KEY) as receiver:
        overrides: dict[str, Any] = {
            "tron": TronSettings(enabled=True, node_urls=[node.url], batch_blocks=50),
            "notify": NotifySettings(allow_hosts=["127.0.0.1"]),
        }
        async with start_live_server(db, **overrides) as server:
            yield World(server, chain, node, receiver, started)


async def sign_in(
    page: Any, world: World, username: str, *, code: str | None = None, steps_ahead: int = 0
) -> None:
    """Fill the login form; `steps_ahead` picks a later TOTP step (a second
    sign-in of one account within 30 s needs a code not used before)."""
    account = world.accounts[username]
    when = datetime.now(UTC) + timedelta(seconds=30 * steps_ahead)
    await page.goto(world.url("/admin/login"))
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORD)
    await page.fill('input[name="code"]', code or totp.code_at(account.totp_secret, when))
    await page.click('form[action="/admin/login"] button[type="submit"]')
    await page.wait_for_load_state("load")


async def csrf_of(page: Any) -> str:
    value: str = await page.locator('input[name="csrf"]').first.get_attribute("value")
    return value


async def shot(page: Any, name: str) -> Path:
    """A full-page PNG under tests/artifacts/admin/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def docs_shot(page: Any, name: str) -> Path:
    """The top 1280x720 of a page, for the README (copies are committed in
    api/http/admin/static/docs/ when the pages change)."""
    folder = ARTIFACTS / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1280, "height": 720})
    return path
