"""`usdtpay reconcile` against the TRON node simulator over real HTTP: books
built by the order service and settlement, then discrepancies planted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from engine.config import Settings, TronSettings
from engine.models import Merchant, Order, Transfer
from tests.dbharness import Db
from tests.factories import make_merchant, make_order, make_wallets
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.engine.audit.books import (
    Run,
    execute,
    ingest_blocks,
    mark_paid,
    reconcile,
    reload,
)
from watchers.tron.reader import TronReader

FIRST = 60_000_000
AMOUNTS = [12_340_000, 5_000_000, 99_990_000, 1_000_000]


@pytest.fixture
def chain() -> TronChain:
    return TronChain(first_block=FIRST, head=FIRST + 400, noise_usdt=10, noise_other=4)


@pytest.fixture
def node(chain: TronChain) -> Iterator[TronNodeSim]:
    with TronNodeSim(chain) as sim:
        yield sim


def at(chain: TronChain, block: int) -> datetime:
    return datetime.fromtimestamp(chain.block_ms(block) / 1000, tz=UTC)


@dataclass
class Books:
    db: Db
    chain: TronChain
    node: TronNodeSim
    settings: Settings
    env: dict[str, str]
    paid: list[Order]
    pending: Order
    window: list[str]

    async def run(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, out: Path
    ) -> Run:
        return await reconcile(capsys, monkeypatch, self.env, out, "--chain", "tron", *self.window)


@pytest.fixture
async def books(db: Db, chain: TronChain, node: TronNodeSim) -> AsyncIterator[Books]:
    """Four orders paid on chain and ingested, one left pending."""
    settings = Settings(
        database_url=db.url, tron=TronSettings(enabled=True, node_urls=[node.url], batch_blocks=40)
    )
    merchant: Merchant = await make_merchant(db)
    wallets = await make_wallets(db, "tron", 2)
    created = at(chain, FIRST + 90)
    orders = [
        await make_order(
            db,
            merchant=merchant,
            settings=settings.orders,
            chain="tron",
            amount_units=units,
            now=created,
            notify_url="",
        )
        for units in AMOUNTS
    ]
    pending = await make_order(
        db,
        merchant=merchant,
        settings=settings.orders,
        chain="tron",
        amount_units=7_000_000,
        now=created,
        notify_url="",
    )
    for i, order in enumerate(orders):
        assert order.address is not None and order.usdt_units is not None
        chain.add_transfer(FIRST + 100 + 20 * i, order.address, order.usdt_units)
    reader = TronReader.from_settings(settings.tron)
    try:
        addresses = frozenset(w.address for w in wallets)
        await ingest_blocks(db, settings, reader, FIRST + 95, FIRST + 300, addresses, at(chain, FIRST + 320))
    finally:
        await reader.aclose()
    paid = [await reload(db, o.id) for o in orders]
    assert all(o.status == "paid" for o in paid)
    env = {
        "USDTPAY_DATABASE_URL": db.url,
        "USDTPAY_TRON__ENABLED": "true",
        "USDTPAY_TRON__NODE_URLS": f'["{node.url}"]',
        "USDTPAY_TRON__BATCH_BLOCKS": "40",
        "USDTPAY_OPS__RECONCILE_RETRY_SECONDS": "0",
    }
    window = ["--from", at(chain, FIRST + 95).isoformat(), "--to", at(chain, FIRST + 300).isoformat()]
    yield Books(db, chain, node, settings, env, paid, pending, window)


async def test_clean_window_exits_0(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 0, run.out + run.err
    assert run.kinds() == {"matched": len(AMOUNTS)}
    assert {r["order_id"] for r in run.rows("matched")} == {o.id for o in books.paid}
    [scan] = run.report["chains"]  # type: ignore[index]
    assert (scan["start_block"], scan["end_block"]) == (FIRST + 95, FIRST + 300)
    assert "exit 0: all matched" in run.out
    row = run.rows("matched")[0]
    assert row["chain_amount"] == row["expected_amount"] and "." in row["chain_amount"]


async def test_order_marked_paid_without_transfer(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = "ab" * 32
    await mark_paid(books.db, books.pending.id, fake, FIRST + 200, at(books.chain, FIRST + 200), 7_000_000)
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 1
    assert run.kinds() == {"matched": len(AMOUNTS), "order_not_on_chain": 1}
    [row] = run.rows("order_not_on_chain")
    assert (row["order_id"], row["tx_hash"]) == (books.pending.id, fake)
    assert "node does not know the hash" in row["message"]
    assert "order_not_on_chain" in run.out and "exit 1" in run.out


async def test_deleted_transfer_row(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    victim = books.paid[1]
    await execute(books.db, update(Order).where(Order.id == victim.id).values(transfer_id=None))
    await execute(books.db, delete(Transfer).where(Transfer.order_id == victim.id))
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 1
    assert run.kinds() == {"matched": len(AMOUNTS) - 1, "transfer_not_in_db": 1}
    [row] = run.rows("transfer_not_in_db")
    assert (row["order_id"], row["tx_hash"], row["chain_units"]) == (
        victim.id,
        victim.tx_hash,
        victim.usdt_units,
    )


async def test_transfer_with_changed_amount(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    victim = books.paid[2]
    assert victim.usdt_units is not None
    await execute(
        books.db,
        update(Transfer).where(Transfer.order_id == victim.id).values(amount_units=victim.usdt_units + 10),
    )
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 1
    [row] = run.rows("transfer_differs")
    assert (row["chain_units"], row["db_units"]) == (victim.usdt_units, victim.usdt_units + 10)
    assert row["db_amount"] == f"{(victim.usdt_units + 10) / 10**6:.6f}"


async def test_hash_reused(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    original = books.paid[0]
    assert original.tx_hash is not None
    when = at(books.chain, FIRST + 150)
    await mark_paid(books.db, books.pending.id, "0x" + original.tx_hash.upper(), FIRST + 150, when, 7_000_000)
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 1
    [row] = run.rows("hash_reused")
    assert sorted(row["related_order_ids"]) == sorted([original.id, books.pending.id])
    assert row["tx_hash"] == original.tx_hash


async def test_unknown_transfer_and_unmatched_underpayment(
    books: Books, db: Db, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An underpayment the watcher recorded is listed with its order; a
    transfer the watcher never saw is reported as unknown."""
    pending = books.pending
    assert pending.address is not None and pending.usdt_units is not None
    books.chain.add_transfer(FIRST + 250, pending.address, pending.usdt_units - 500_000)
    reader = TronReader.from_settings(books.settings.tron)
    try:
        ours = frozenset({pending.address})
        await ingest_blocks(db, books.settings, reader, FIRST + 250, FIRST + 250, ours, at(books.chain, 330))
    finally:
        await reader.aclose()
    books.chain.add_transfer(FIRST + 260, pending.address, 3_000_000)  # after the watcher's step
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 1
    [under] = run.rows("unmatched_transfer")
    assert under["order_id"] == pending.id and under["reason"] == "underpaid"
    assert under["chain_units"] == pending.usdt_units - 500_000
    [unknown] = run.rows("transfer_not_in_db")
    assert unknown["chain_units"] == 3_000_000 and unknown["order_id"] is None


async def test_node_failing_mid_run_exits_2(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    books.node.fail("503", path="gettransactioninfobyblocknum", times=10_000)
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 2
    assert "reconciliation incomplete" in run.err and "tron" in run.err
    assert "were not read" in run.err and "run again" in run.err
    assert not list(tmp_path.glob("reconcile-*"))


async def test_unreachable_node_exits_2(
    books: Books, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    books.env["USDTPAY_TRON__NODE_URLS"] = '["http://127.0.0.1:9"]'
    run = await books.run(capsys, monkeypatch, tmp_path)
    assert run.code == 2 and "head" in run.err
