"""`usdtpay reconcile --chain eth` against a real anvil node with a real
6-decimal ERC20: books settled through the EVM reader and ingest, then each
kind of discrepancy planted in turn; a node failing mid-run gives exit 2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from engine.config import Settings
from engine.models import Merchant, Order, Transfer
from tests.dbharness import Db
from tests.factories import make_merchant, make_order, make_wallets
from tests.fakes.evm_rpc_proxy import RpcFaultProxy
from tests.integration.engine.audit.books import (
    execute,
    ingest_blocks,
    mark_paid,
    reconcile,
    reload,
)
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.support import devchain, evm_settings, token_artifact  # noqa: F401
from watchers.readers import build_reader

pytestmark = pytest.mark.anvil

CONFIRMATIONS = 2


def env_for(db: Db, url: str, chain: Devchain) -> dict[str, str]:
    return {
        "USDTPAY_DATABASE_URL": db.url,
        "USDTPAY_ETH__ENABLED": "true",
        "USDTPAY_ETH__RPC_URLS": f'["{url}"]',
        "USDTPAY_ETH__USDT_CONTRACT": chain.token.address,
        "USDTPAY_ETH__CONFIRMATIONS": str(CONFIRMATIONS),
        "USDTPAY_ETH__TIMEOUT_SECONDS": "2",
        "USDTPAY_OPS__RECONCILE_RETRY_SECONDS": "0",
    }


async def paid_books(db: Db, chain: Devchain) -> tuple[Settings, list[Order], Order]:
    """Three orders paid with real transactions and ingested; one pending."""
    settings = evm_settings(db, chain, confirmations=CONFIRMATIONS)
    merchant: Merchant = await make_merchant(db)
    wallets = await make_wallets(db, "eth", 2, start=0x5A5A_0000_1234)
    created = datetime.now(UTC) - timedelta(minutes=2)
    orders = [
        await make_order(
            db,
            merchant=merchant,
            settings=settings.orders,
            chain="eth",
            amount_units=u,
            now=created,
            notify_url="",
        )
        for u in (12_000_000, 3_500_000, 800_000)
    ]
    pending = await make_order(
        db,
        merchant=merchant,
        settings=settings.orders,
        chain="eth",
        amount_units=9_000_000,
        now=created,
        notify_url="",
    )
    for order in orders:
        assert order.address is not None and order.usdt_units is not None
        await chain.pay(order.address, order.usdt_units)
    await chain.mine(CONFIRMATIONS + 1)
    reader = build_reader(settings, "eth")
    try:
        final = (await reader.heads()).final
        addresses = frozenset(w.address for w in wallets)
        await ingest_blocks(db, settings, reader, 0, final, addresses, datetime.now(UTC))
    finally:
        await reader.aclose()
    paid = [await reload(db, o.id) for o in orders]
    assert [o.status for o in paid] == ["paid"] * 3
    return settings, paid, pending


async def test_clean_then_each_planted_discrepancy(
    db: Db,
    devchain: Devchain,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _, paid, pending = await paid_books(db, devchain)
    env = env_for(db, devchain.url, devchain)

    async def run() -> tuple[int, dict[str, int], list[dict]]:  # type: ignore[type-arg]
        result = await reconcile(capsys, monkeypatch, env, tmp_path, "--chain", "eth")  # default: last 24 h
        assert result.report is not None, result.err
        return result.code, result.kinds(), result.report["findings"]

    code, kinds, _ = await run()
    assert (code, kinds) == (0, {"matched": 3})

    # 1. an order marked paid without any transfer
    await mark_paid(db, pending.id, "0x" + "ee" * 32, None, datetime.now(UTC), 9_000_000)  # type: ignore[arg-type]
    code, kinds, rows = await run()
    assert code == 1 and kinds == {"matched": 3, "order_not_on_chain": 1}
    assert next(r for r in rows if r["kind"] == "order_not_on_chain")["order_id"] == pending.id
    await execute(db, update(Order).where(Order.id == pending.id).values(status="pending", tx_hash=None))

    # 2. a transfer row deleted
    await execute(db, update(Order).where(Order.id == paid[0].id).values(transfer_id=None))
    await execute(db, delete(Transfer).where(Transfer.order_id == paid[0].id))
    code, kinds, rows = await run()
    assert code == 1 and kinds == {"matched": 2, "transfer_not_in_db": 1}
    missing = next(r for r in rows if r["kind"] == "transfer_not_in_db")
    assert (missing["order_id"], missing["chain_units"]) == (paid[0].id, paid[0].usdt_units)

    # 3. a transfer row with a changed amount
    await execute(db, update(Transfer).where(Transfer.order_id == paid[1].id).values(amount_units=1))
    code, kinds, rows = await run()
    assert kinds["transfer_differs"] == 1
    differs = next(r for r in rows if r["kind"] == "transfer_differs")
    assert (differs["db_units"], differs["db_amount"]) == (1, "0.000001")

    # 4. a hash reused by another order
    await mark_paid(
        db, pending.id, paid[2].tx_hash or "", paid[2].block_number or 0, datetime.now(UTC), 9_000_000
    )
    code, kinds, rows = await run()
    assert code == 1 and kinds["hash_reused"] == 1
    reused = next(r for r in rows if r["kind"] == "hash_reused")
    assert sorted(reused["related_order_ids"]) == sorted([paid[2].id, pending.id])


@pytest.fixture
async def proxy(devchain: Devchain) -> AsyncIterator[RpcFaultProxy]:  # noqa: F811
    p = RpcFaultProxy(devchain.url)
    await p.start()
    yield p
    await p.stop()


async def test_node_failing_mid_run_exits_2(
    db: Db,
    devchain: Devchain,  # noqa: F811
    proxy: RpcFaultProxy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await paid_books(db, devchain)
    proxy.inject("eth_getLogs", *["503"] * 50)
    result = await reconcile(
        capsys, monkeypatch, env_for(db, proxy.url, devchain), tmp_path, "--chain", "eth"
    )
    assert result.code == 2, result.out + result.err
    assert "reconciliation incomplete" in result.err and "eth: the node failed on blocks" in result.err
    assert "run again" in result.err
    assert not list(tmp_path.glob("reconcile-*"))
