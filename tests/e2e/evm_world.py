"""The cashier page against a real chain: anvil (tests/integration/watchers/evm
devchain), the app configured for it, and the real ERC20 watcher (EVM reader
+ streamer) running beside the page, polling fast."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from engine.config import EthSettings
from tests.dbharness import Db
from tests.e2e.browser import LiveServer, start_live_server
from tests.integration.watchers.evm.devchain import Devchain, anvil_binary, compile_token, started
from watchers.evm.reader import EvmReader
from watchers.runner import streamer_config
from watchers.streamer import Streamer

CONFIRMATIONS = 3  # a short depth keeps the tests quick; the page shows n / 3
WATCH_POLL_S = 0.2


@dataclass
class EvmWorld:
    server: LiveServer
    chain: Devchain
    db: Db

    @contextlib.asynccontextmanager
    async def watcher(self, poll_seconds: float = WATCH_POLL_S) -> AsyncIterator[Streamer]:
        """The real watcher loop in the background until the block ends."""
        config = replace(streamer_config(self.server.settings, "eth"), poll_seconds=poll_seconds)
        reader = EvmReader.from_settings(self.server.settings.eth)
        streamer = Streamer(reader, self.db.sessions, config)
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop, progress_every_s=3600))
        try:
            yield streamer
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await reader.aclose()

    async def until_seen(self, streamer: Streamer, order_id: str, timeout_s: float = 40.0) -> dict[str, Any]:
        """check_order until it reports the transfer as seen; on timeout, say
        what the watcher and the database knew."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with httpx.AsyncClient(base_url=self.server.base_url, timeout=timeout_s) as client:
            while True:
                body: dict[str, Any] = (
                    await client.get("/api/check_order", params={"out_trade_no": order_id})
                ).json()
                if body.get("seen"):
                    return body
                if asyncio.get_running_loop().time() > deadline:
                    async with self.db.sessions() as session:
                        rows = (await session.execute(text("select * from seen_transfers"))).all()
                        cursor = (await session.execute(text("select * from chain_cursors"))).all()
                        order = (
                            await session.execute(text(f"select * from orders where id={int(order_id)}"))
                        ).all()
                    raise AssertionError(
                        f"never seen: {body}; progress {streamer.progress}; seen rows {rows}; "
                        f"cursor {cursor}; order {order}; head {await self.chain.head()}"
                    )
                await asyncio.sleep(0.2)

    async def precreate(self, name: str = "VIP会员充值 · 一个月", price: str = "100.00") -> str:
        """Seed 000's merchant call; the payer picks USDT on the page."""
        async with self.server.client() as client:
            resp = await client.post("/api/precreate", json={"name": name, "price": price})
        assert resp.status_code == 200, resp.text
        order_id: str = resp.json()["out_trade_no"]
        return order_id

    def page_url(self, order_id: str) -> str:
        return f"{self.server.base_url}/cashier.html?orderId={order_id}"


@pytest.fixture(scope="session")
def token_artifact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return compile_token(Path(tmp_path_factory.mktemp("devchain")))


@pytest.fixture
async def evm_world(db: Db, token_artifact: dict[str, Any]) -> AsyncIterator[EvmWorld]:
    anvil = await started(anvil_binary())
    try:
        chain = await Devchain.start(anvil.url, token_artifact)
        eth = EthSettings(
            enabled=True,
            rpc_urls=[chain.url],
            usdt_contract=chain.token.address,
            confirmations=CONFIRMATIONS,
            start_block=await chain.head(),
        )
        async with start_live_server(db, eth=eth) as server:
            yield EvmWorld(server=server, chain=chain, db=db)
        await chain.close()
    finally:
        anvil.stop()


async def order_units(world: EvmWorld, order_id: str) -> tuple[str, int]:
    """The order's address and exact amount, once the payer has picked USDT."""
    from engine.models import Order

    async with world.db.sessions() as session:
        order = await session.get(Order, int(order_id))
        assert order is not None and order.address and order.usdt_units
        return order.address, order.usdt_units
