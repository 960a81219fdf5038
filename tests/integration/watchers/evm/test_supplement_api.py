"""POST /api/pay/supplement (seed 004) against a real anvil node: a payment
the watcher never saw is settled by its hash; each failed check is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from engine.clock import ManualClock
from engine.config import Settings
from engine.models import Notification, Transfer
from engine.settlement import set_cursor
from tests.dbharness import Db
from tests.factories import eth_address, signed
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.support import client_for
from tests.integration.watchers.evm.test_erc20_watcher import create_order, query, units, watch

pytestmark = pytest.mark.anvil


async def supplement(
    client: AsyncTestClient, order_no: str, tx: str, **extra: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        "/api/pay/supplement", json=signed({"pid": "10001", "order_no": order_no, "hash": tx, **extra})
    )
    body: dict[str, Any] = resp.json()
    assert body["code"] == resp.status_code
    return resp.status_code, body


async def test_supplement_settles_a_transfer_the_watcher_skipped(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "S1")
    tx = await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(settings.eth.confirmations)
    async with shop.sessions() as session:  # the operator moved the cursor past the payment
        await set_cursor(session, "eth", await devchain.head() + 1, datetime.now(UTC))
        await session.commit()
    await devchain.mine(settings.eth.confirmations + 1)
    await watch(settings, shop)
    assert (await query(client, "S1"))["status"] == "pending"

    status, body = await supplement(
        client, "S1", tx.upper().replace("0X", "0x"), p_addr=devchain.payer.lower()
    )
    assert status == 200, body
    assert body["data"] == await query(client, "S1")
    assert body["data"]["status"] == "paid" and body["data"]["order_no"] == "S1"
    async with shop.sessions() as session:
        [row] = await session.scalars(select(Transfer))
        assert (row.source, row.status, row.tx_hash) == ("supplement", "matched", tx[2:])
        assert len(list(await session.scalars(select(Notification)))) == 1
    again = await supplement(client, "S1", tx[2:])  # a retry answers the same
    assert again == (200, body)


async def test_each_failed_check_is_named(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    data = await create_order(client, "S2")
    address, amount = data["u_addr"], units(data["amount"])
    other_token = await devchain.deploy_token()
    await devchain.wait(other_token.functions.mint(devchain.payer, 10**12).transact({"from": devchain.owner}))
    await devchain.wait(
        devchain.token.functions.mint(devchain.owner, 10**12).transact({"from": devchain.owner})
    )
    txs = {
        "tx_failed": await devchain.pay_reverting(address, amount),
        "wrong_token": await devchain.pay(address, amount, token=other_token),
        "wrong_recipient": await devchain.pay(eth_address(31337), amount),
        "amount_differs": await devchain.pay(address, amount + 5),
        "payer_differs": await devchain.pay(address, amount, sender=devchain.owner),
    }
    await devchain.mine(settings.eth.confirmations)
    txs["tx_not_final"] = await devchain.pay(address, amount)
    txs["tx_not_found"] = "0x" + "ab" * 32
    for reason, tx in txs.items():
        extra = {"p_addr": devchain.payer} if reason == "payer_differs" else {}
        status, body = await supplement(client, "S2", tx, **extra)
        assert (status, body["data"]) == (422, {"reason": reason}), (reason, body)
        assert body["msg"]
    assert (await query(client, "S2"))["status"] == "pending"
    # The same not-yet-final transfer settles once it is deep enough.
    await devchain.mine(settings.eth.confirmations)
    status, body = await supplement(client, "S2", txs["tx_not_final"])
    assert status == 200 and body["data"]["status"] == "paid", body


@pytest.mark.parametrize(
    ("shift", "reason"), [(timedelta(minutes=10), "tx_too_early"), (-timedelta(hours=2), "tx_too_late")]
)
async def test_transfer_outside_the_order_window(
    devchain: Devchain, settings: Settings, shop: Db, shift: timedelta, reason: str
) -> None:
    """The app's clock is moved so the order is created after the block
    (too early) or expired long before it (too late)."""
    clock = ManualClock(datetime.now(UTC) + shift)
    async for client in client_for(settings, clock):
        data = await create_order(client, "S3")
        tx = await devchain.pay(data["u_addr"], units(data["amount"]))
        await devchain.mine(settings.eth.confirmations)
        status, body = await supplement(client, "S3", tx)
        assert (status, body["data"]) == (422, {"reason": reason}), body


async def test_hash_of_another_order_and_bad_input(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    first = await create_order(client, "S4")
    await create_order(client, "S5")
    tx = await devchain.pay(first["u_addr"], units(first["amount"]))
    await devchain.mine(settings.eth.confirmations)
    await watch(settings, shop)
    assert (await query(client, "S4"))["status"] == "paid"
    status, body = await supplement(client, "S5", tx)
    assert (status, body["data"]) == (422, {"reason": "hash_used"}) and "another order" in body["msg"]
    status, body = await supplement(client, "S5", "0x1234")
    assert status == 422 and "64 hex digits" in body["msg"]
    status, body = await supplement(client, "S5", tx, p_addr="not-an-address")
    assert status == 422 and "EVM address" in body["msg"]
    status, body = await supplement(client, "NOPE", tx)
    assert status == 404


async def test_bad_signature_is_refused(client: AsyncTestClient, devchain: Devchain, shop: Db) -> None:
    body = signed({"pid": "10001", "order_no": "S6", "hash": "0x" + "ab" * 32})
    body["hash"] = "0x" + "cd" * 32
    resp = await client.post("/api/pay/supplement", json=body)
    assert resp.status_code == 403


async def test_disabled_chain_answers_503(devchain: Devchain, settings: Settings, shop: Db) -> None:
    async for client in client_for(settings):
        await create_order(client, "S7")
    disabled = settings.model_copy(update={"eth": settings.eth.model_copy(update={"enabled": False})})
    async for client in client_for(disabled):
        status, body = await supplement(client, "S7", "0x" + "ab" * 32)
        assert status == 503 and "USDTPAY_ETH__ENABLED" in body["msg"]
