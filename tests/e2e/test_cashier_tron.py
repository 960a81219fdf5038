"""A TRC20 payment on the cashier page in headless Chromium, against the TRON
node simulator producing a block every 3 s and the real TRON watcher at its
default poll: seen in a head block ("confirming n / 19"), paid once the
block is solidified. Records the time from the block holding the transfer
to the page saying so (tests/artifacts/cashier/seen_latency.txt)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import expect

from engine.config import TronSettings
from engine.models import Order
from tests.dbharness import Db
from tests.e2e.browser import Browser, LiveServer, screenshot, start_live_server
from tests.e2e.latency import record_latency
from tests.fakes.tron_chain import USDT, TronChain
from tests.fakes.tron_node import TronNodeSim
from watchers.runner import streamer_config
from watchers.streamer import Streamer
from watchers.tron.reader import TronReader

pytestmark = pytest.mark.chromium

FIRST = 70_000_000
BLOCK_S = 3.0
WAIT_MS = 30_000


@dataclass
class TronWorld:
    server: LiveServer
    chain: TronChain
    db: Db
    produced: dict[int, float]  # block number → when it became the head (monotonic)


async def produce_blocks(chain: TronChain, produced: dict[int, float], stop: asyncio.Event) -> None:
    """One block every 3 s, as TRON does."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=BLOCK_S)
        produced[chain.advance(1)] = time.monotonic()


@pytest.fixture
async def tron_world(db: Db) -> AsyncIterator[TronWorld]:
    head = FIRST + 100
    # Block times near now, so a payment falls inside the order's window.
    genesis_ms = int(time.time() * 1000) - (head - FIRST) * int(BLOCK_S * 1000)
    chain = TronChain(first_block=FIRST, head=head, genesis_ms=genesis_ms, noise_usdt=8, noise_other=3)
    with TronNodeSim(chain) as node:
        tron = TronSettings(enabled=True, node_urls=[node.url], usdt_contract=USDT, start_block=chain.solid)
        async with start_live_server(db, tron=tron) as server:
            produced: dict[int, float] = {}
            stop = asyncio.Event()
            ticker = asyncio.create_task(produce_blocks(chain, produced, stop))
            config = streamer_config(server.settings, "tron")  # the default 3 s poll
            reader = TronReader.from_settings(server.settings.tron)
            watcher = asyncio.create_task(Streamer(reader, db.sessions, config).run(stop))
            try:
                yield TronWorld(server=server, chain=chain, db=db, produced=produced)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(ticker, watcher), timeout=30)
                await reader.aclose()


async def test_trc20_seen_at_the_head_then_paid_at_solid(tron_world: TronWorld, browser: Browser) -> None:
    world = tron_world
    async with world.server.client() as client:
        resp = await client.post("/api/precreate", json={"name": "月度会员", "price": "100.00"})
    order_id = resp.json()["out_trade_no"]
    page = await browser.desktop_page()
    await page.goto(f"{world.server.base_url}/cashier.html?orderId={order_id}")
    await page.locator(".channel[data-type='usdt_trc20']").click()
    await expect(page.locator("#pane-usdt")).to_be_visible()
    async with world.db.sessions() as session:
        order = await session.get(Order, int(order_id))
        assert order is not None and order.address and order.usdt_units

    block = world.chain.head + 1  # the transfer goes into the next block produced
    world.chain.add_transfer(block, order.address, order.usdt_units)
    title = page.locator("#confirm-title")
    await expect(title).to_contain_text("已收到付款,正在确认(", timeout=WAIT_MS)
    latency = time.monotonic() - world.produced[block]
    await expect(title).to_contain_text(f"/ {world.chain.solid_lag})")
    await screenshot(page, "desktop-trc20-confirming")
    record_latency("tron (simulator, a block every 3 s), watcher polling every 3 s, page every 3 s", latency)

    world.chain.advance(world.chain.solid_lag)  # the block is solidified
    await expect(page.locator("#pane-paid")).to_be_visible(timeout=WAIT_MS)
