"""Crash safety: `usdtpay watch tron` killed with SIGKILL at random moments
while it catches up, restarted, again and again. In the end every transfer
is ingested exactly once, every order is settled once, and one "paid"
notification exists per order (DESIGN invariants 3, 4, 5).

The watcher is a real OS process on a real database (SQLite file or
PostgreSQL) reading the node simulator over loopback HTTP. The quick
variant kills it a few times; `-m soak` runs a long one.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.models import Notification, Order, Transfer
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.watchers.tron.orders import cursor, tron_order

FIRST = 60_000_000
VENV_BIN = Path(sys.executable).parent


def watcher_env(db: Db, node: TronNodeSim, batch: int) -> dict[str, str]:
    return {
        **os.environ,
        "USDTPAY_DATABASE_URL": db.url,
        "USDTPAY_TRON__ENABLED": "true",
        "USDTPAY_TRON__NODE_URLS": f'["{node.url}"]',
        "USDTPAY_TRON__START_BLOCK": str(FIRST),
        "USDTPAY_TRON__BATCH_BLOCKS": str(batch),
        "USDTPAY_TRON__POLL_SECONDS": "0.2",
        "USDTPAY_LOG_JSON": "false",
    }


async def run_once(env: dict[str, str], log: Path, rng: random.Random | None) -> int | None:
    """Start the watcher; with `rng`, SIGKILL it at a random moment of its
    catch-up (after 0-2 finished steps plus 0-80 ms); without, let it finish.
    Returns the exit code, or None when it was killed."""
    with log.open("ab") as stderr:
        proc = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "usdtpay"), "watch", "tron", "--until-caught-up",
            stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        if rng is None:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
            assert b"caught up" in out, out.decode()[-2000:]
            return proc.returncode
        for _ in range(rng.randrange(3)):
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            if not line or b"caught up" in line:
                break
        await asyncio.sleep(rng.random() * 0.08)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return None if proc.returncode == -signal.SIGKILL else proc.returncode


async def crash_and_restart(db: Db, tmp_path: Path, *, blocks: int, kills: int, seed: int) -> None:
    await make_merchant(db)
    wallets = [w.address for w in await make_wallets(db, "tron", 4)]
    chain = TronChain(
        first_block=FIRST,
        head=FIRST + blocks + 19,
        noise_usdt=20,
        noise_other=5,
        recipients=wallets,
        ours_per_block=2,  # random amounts to our addresses: unmatched transfers
    )
    rng = random.Random(seed)
    created = datetime.fromtimestamp(chain.block_ms(FIRST) // 1000, UTC) - timedelta(minutes=1)
    orders = [await tron_order(db, created, price_units=1_000_000 * (i + 1)) for i in range(24)]
    for order in orders:
        assert order.address and order.usdt_units
        block = FIRST + rng.randrange(blocks)
        chain.add_transfer(block, order.address, order.usdt_units)
        if rng.random() < 0.3:  # paid twice: the second must not settle again
            chain.add_transfer(block + rng.randrange(1, 10), order.address, order.usdt_units)

    with TronNodeSim(chain) as node:
        env = watcher_env(db, node, batch=rng.choice([3, 5, 8]))
        log = tmp_path / "watcher.log"
        for _ in range(kills):
            code = await run_once(env, log, rng)
            assert code in (None, 0), log.read_text()[-3000:]
        assert await run_once(env, log, None) == 0, log.read_text()[-3000:]

    expected = chain.transfers_to(set(wallets), FIRST, chain.solid)
    async with db.sessions() as session:
        rows = (await session.scalars(select(Transfer))).all()
        paid = (await session.scalars(select(Order).where(Order.status == "paid"))).all()
        notes = Counter((await session.scalars(select(Notification.order_id))).all())
    assert sorted((r.tx_hash, r.log_index, r.to_address, r.amount_units) for r in rows) == sorted(expected)
    assert len(rows) == len({(r.tx_hash, r.log_index) for r in rows}) == len(expected)
    matched = Counter(r.order_id for r in rows if r.status == "matched")
    assert sorted(matched) == sorted(o.id for o in orders) and set(matched.values()) == {1}
    assert {o.id for o in paid} == {o.id for o in orders}
    assert all(o.transfer_id is not None and o.tx_hash for o in paid)
    assert notes == Counter({o.id: 1 for o in orders})  # one "paid" notification each
    assert await cursor(db) == chain.solid + 1


def seed() -> int:
    value = int(os.environ.get("USDTPAY_TEST_SEED", random.randrange(1_000_000)))
    print(f"crash test seed {value} (USDTPAY_TEST_SEED={value} to repeat)")
    return value


async def test_killed_watcher_ingests_every_transfer_once(any_db: Db, tmp_path: Path) -> None:
    await crash_and_restart(any_db, tmp_path, blocks=60, kills=3, seed=seed())


@pytest.mark.soak
async def test_killed_watcher_soak(any_db: Db, tmp_path: Path) -> None:
    await crash_and_restart(any_db, tmp_path, blocks=600, kills=40, seed=seed())
