"""The EVM reader and the streamer behind a fault-injecting JSON-RPC proxy
(real HTTP on loopback) in front of anvil: each provider failure becomes
the right error, fail-over works, and the cursor never skips."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from engine.config import Settings
from engine.models import ChainCursor
from tests.dbharness import Db
from tests.fakes.evm_rpc_proxy import RpcFaultProxy
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.test_erc20_watcher import create_order, query, units
from watchers.errors import MalformedResponse, ProviderError, RangeTooLarge, RateLimited
from watchers.evm.reader import EvmReader
from watchers.runner import streamer_config
from watchers.streamer import Streamer

pytestmark = pytest.mark.anvil


@pytest.fixture
async def proxy(devchain: Devchain) -> AsyncIterator[RpcFaultProxy]:
    p = RpcFaultProxy(devchain.url)
    await p.start()
    yield p
    await p.stop()


@pytest.mark.parametrize(
    ("fault", "error", "retry_after"),
    [
        ("429", RateLimited, 7.0),
        ("403", RateLimited, None),
        ("503", ProviderError, None),
        ("hang", ProviderError, None),
        ("not_json", MalformedResponse, None),
        ("rpc_error", ProviderError, None),
    ],
)
async def test_each_provider_failure_is_classified(
    proxy: RpcFaultProxy,
    devchain: Devchain,
    fault: str,
    error: type[ProviderError],
    retry_after: float | None,
) -> None:
    reader = EvmReader([proxy.url], devchain.token.address, timeout_s=1.0)
    try:
        proxy.inject("eth_getBlockByNumber", fault)
        with pytest.raises(error) as caught:
            await reader.heads()
        assert not isinstance(caught.value, RangeTooLarge)
        assert caught.value.retry_after == retry_after
        assert (await reader.heads()).head == await devchain.head()  # the next call goes through
    finally:
        await reader.aclose()


async def test_range_too_large_is_recognised(proxy: RpcFaultProxy, devchain: Devchain) -> None:
    reader = EvmReader([proxy.url], devchain.token.address)
    try:
        proxy.inject("eth_getLogs", "range")
        with pytest.raises(RangeTooLarge):
            await reader.transfers(0, 10, frozenset([devchain.payer]))
    finally:
        await reader.aclose()


async def test_fail_over_to_the_next_url(proxy: RpcFaultProxy, devchain: Devchain) -> None:
    reader = EvmReader([proxy.url, devchain.url], devchain.token.address)
    try:
        proxy.inject("*", "503")
        assert (await reader.heads()).head == await devchain.head()
        assert proxy.calls == ["eth_getBlockByNumber"]
    finally:
        await reader.aclose()


async def test_watcher_through_a_faulty_provider_settles_and_never_skips(
    client: AsyncTestClient, devchain: Devchain, proxy: RpcFaultProxy, settings: Settings, shop: Db
) -> None:
    orders = [await create_order(client, f"F{i}") for i in range(3)]
    for data in orders:
        await devchain.pay(data["u_addr"], units(data["amount"]))
        await devchain.mine(4)
    await devchain.mine(settings.eth.confirmations)
    proxy.max_log_range = 5
    faulty = settings.model_copy(
        update={
            "eth": settings.eth.model_copy(
                update={"rpc_urls": [proxy.url], "batch_blocks": 16, "timeout_seconds": 1.0}
            )
        }
    )
    reader = EvmReader.from_settings(faulty.eth)
    streamer = Streamer(reader, shop.sessions, streamer_config(faulty, "eth"))
    rng = random.Random(3)
    cursors: list[int] = []
    expected_start = 0
    try:
        for _ in range(300):
            if rng.random() < 0.3:
                proxy.inject("*", rng.choice(["429", "503", "not_json", "rpc_error"]))
            step = await streamer.run_step()
            async with shop.sessions() as session:
                cursor = (await session.scalars(select(ChainCursor.next_block))).one_or_none()
            cursors.append(cursor if cursor is not None else 0)
            if step.kind == "ingested":
                assert step.start == expected_start  # no gap, no overlap
                assert step.end is not None and cursors[-1] == step.end + 1
                expected_start = step.end + 1
            if step.kind == "caught_up" and not proxy.faults["*"]:
                break
    finally:
        await reader.aclose()
    assert cursors == sorted(cursors)  # never moved back
    assert streamer.progress.errors > 0
    assert [(await query(client, f"F{i}"))["status"] for i in range(3)] == ["paid"] * 3
