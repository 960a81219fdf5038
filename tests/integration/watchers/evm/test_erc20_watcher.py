"""ERC20 end to end on a real local EVM node (anvil): orders over HTTP, real
token transactions, the real watcher (web3 reader + streamer), real SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from engine.config import Settings
from engine.models import Order, Transfer
from tests.dbharness import Db
from tests.factories import eth_address, signed
from tests.integration.watchers.evm.devchain import Devchain
from watchers.evm.reader import EvmReader
from watchers.runner import streamer_config
from watchers.streamer import Streamer

pytestmark = pytest.mark.anvil


async def create_order(client: AsyncTestClient, order_no: str, amount: str = "10.00") -> dict[str, Any]:
    body = {
        "pid": "10001",
        "chain_type": 2,
        "order_no": order_no,
        "amount": amount,
        "currency": "USDT",
        "type": 1,
    }
    resp = await client.post("/api/pay/create", json=signed({**body, "notify_url": "https://m.example/n"}))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    assert data["u_type"] == "ERC20"
    return data


async def query(client: AsyncTestClient, order_no: str) -> dict[str, Any]:
    resp = await client.get("/api/pay/query", params=signed({"pid": "10001", "order_no": order_no}))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def units(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 10**6 + int(frac.ljust(6, "0"))


async def watch(settings: Settings, db: Db) -> Streamer:
    """Run the real watcher until it has caught up with the final head."""
    reader = EvmReader.from_settings(settings.eth)
    streamer = Streamer(reader, db.sessions, streamer_config(settings, "eth"))
    try:
        for _ in range(100):
            step = await streamer.run_step()
            assert step.kind != "error", step.error
            if step.kind == "caught_up":
                return streamer
        raise AssertionError("the watcher did not catch up")
    finally:
        await reader.aclose()


async def transfers(db: Db) -> list[Transfer]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Transfer).order_by(Transfer.id)))


async def test_exact_payment_past_the_depth_pays_the_order(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "E1")
    tx = await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(settings.eth.confirmations)
    streamer = await watch(settings, shop)
    assert streamer.progress.matched == 1
    paid = await query(client, "E1")
    assert paid["status"] == "paid" and paid["paytime"] > 0
    async with shop.sessions() as session:
        order = (await session.scalars(select(Order).where(Order.merchant_order_no == "E1"))).one()
    assert order.tx_hash == tx[2:] and order.payer_address == devchain.payer
    assert order.paid_units == units(data["amount"])


async def test_payment_below_the_depth_waits_for_confirmations(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "E2")
    await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(settings.eth.confirmations - 1)  # tx block + 11 on top: 11 confirmations
    await watch(settings, shop)
    assert (await query(client, "E2"))["status"] == "pending"
    assert await transfers(shop) == []
    await devchain.mine(1)
    await watch(settings, shop)
    assert (await query(client, "E2"))["status"] == "paid"


async def test_reorg_inside_the_depth_leaves_the_order_pending(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "E3")
    snapshot = await devchain.snapshot()
    await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(5)
    await watch(settings, shop)  # sees nothing final yet
    await devchain.revert(snapshot)  # the block with the transfer is gone
    await devchain.mine(settings.eth.confirmations + 5)
    await watch(settings, shop)
    assert (await query(client, "E3"))["status"] == "pending"
    assert await transfers(shop) == []


async def test_wrong_amount_is_kept_as_an_unmatched_transfer(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "E4")
    await devchain.pay(data["u_addr"], units(data["amount"]) - 1)
    await devchain.pay(eth_address(4242), units(data["amount"]))  # not ours: never recorded
    await devchain.mine(settings.eth.confirmations)
    await watch(settings, shop)
    assert (await query(client, "E4"))["status"] == "pending"
    [row] = await transfers(shop)
    assert (row.status, row.reason, row.amount_units) == ("unmatched", "underpaid", units(data["amount"]) - 1)


async def test_other_token_to_our_address_is_not_seen(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "E5")
    other = await devchain.deploy_token()
    await devchain.wait(other.functions.mint(devchain.payer, 10**9).transact({"from": devchain.owner}))
    await devchain.pay(data["u_addr"], units(data["amount"]), token=other)
    await devchain.mine(settings.eth.confirmations)
    await watch(settings, shop)
    assert (await query(client, "E5"))["status"] == "pending"
    assert await transfers(shop) == []


async def test_many_addresses_are_chunked_into_several_filters(
    devchain: Devchain, shop: Db, settings: Settings
) -> None:
    """Recipient topics go in chunks of `addresses_per_filter`; every chunk is asked."""
    ours = [eth_address(0x1000 + i) for i in range(7)]
    for i, address in enumerate(ours):
        await devchain.pay(address, 1_000_000 + i)
    await devchain.mine(settings.eth.confirmations)
    reader = EvmReader(
        [devchain.url],
        devchain.token.address,
        confirmations=settings.eth.confirmations,
        addresses_per_filter=2,
    )
    try:
        heads = await reader.heads()
        before = reader.requests
        found = await reader.transfers(0, heads.final, frozenset([*ours, eth_address(0x9999)]))
        assert reader.requests - before == 4 + 7  # 4 filters of <= 2 recipients, then 7 block headers
    finally:
        await reader.aclose()
    assert sorted(t.to_address for t in found) == sorted(ours)
    assert sorted(t.amount_units for t in found) == [1_000_000 + i for i in range(7)]
    assert all(t.token_contract == devchain.token.address and t.from_address == devchain.payer for t in found)


async def test_a_dead_rpc_url_fails_over_to_the_next(
    devchain: Devchain, settings: Settings, shop: Db
) -> None:
    from tests.integration.watchers.evm.devchain import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    reader = EvmReader([dead, devchain.url], devchain.token.address, timeout_s=2.0)
    try:
        assert (await reader.heads()).head == await devchain.head()
        assert (await reader.heads()).head == await devchain.head()  # sticks to the live one
        assert reader.requests == 3
    finally:
        await reader.aclose()
