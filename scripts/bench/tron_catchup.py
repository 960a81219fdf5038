"""Benchmark: TRON catch-up against the node simulator.

Starts the simulator as its own process (tests/fakes/tron_node.py) with
about 200 USDT transfers (plus other contracts' logs) per block, some of
them to 10,000 watched addresses, and measures, on separate cold block
ranges of the same chain:

  0. wrk      the simulator's ceiling: wrk (C, not the limit) asking
              gettransactioninfobyblocknum for cold blocks, 8 connections
  1. raw      a Python httpx client doing the same with the same
              concurrency, bodies read, not parsed
  2. 1 addr   the real watcher loop (streamer + TRON reader + SQLite
              ingest and cursor) watching one address
  3. 10k      the same loop watching 10,000 addresses

and prints blocks/s, node requests per block, the CPU share the simulator
used (near 100 %: the simulator, a Python process, was the limit), the
ratio to real time (one TRON block every 3 s) and the ratios to the
baselines. Goals: ≥ 100 blocks/s, 1 request per block whatever the
number of addresses.

Then, following the head (issue 17): a chain advancing one block per watcher
step, with and without reading the head blocks above the solid head (the
"seen, confirming" sign on the cashier page), counting the node requests
per new block. Goal: at most one more request per block.

    .venv/bin/python -m scripts.bench.tron_catchup [--blocks 600] [--batch 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from engine.config import TRON_USDT_CONTRACT, Settings
from engine.db import create_engine, create_session_factory
from engine.migrate import upgrade
from engine.models import Wallet
from engine.settlement import rules_for
from scripts.bench._harness import Figure, cpu_seconds, report, run_wrk, write_lines
from tests.fakes.tron_chain import watched_address
from watchers.streamer import Streamer, StreamerConfig
from watchers.tron.client import TronNodeClient
from watchers.tron.reader import TronReader

FIRST = 60_000_000
SEED = 11
TRON_BLOCK_S = 3.0
WRK_SECONDS = 5.0


@dataclass
class Pass:
    name: str
    blocks: int
    seconds: float
    requests: int
    transfers: int = 0
    node_cpu: float = 0.0  # the simulator's CPU seconds ÷ wall seconds

    @property
    def per_second(self) -> float:
        return self.blocks / self.seconds

    @property
    def requests_per_block(self) -> float:
        return self.requests / self.blocks


def wrk_pass(url: str, start: int, seconds: float, concurrency: int, folder: Path) -> Pass:
    """The simulator's ceiling with a client that is not the limit: wrk,
    each request a block not rendered before (enough for 2,000 blocks/s)."""
    bodies = [f'{{"num": {n}}}' for n in range(start, start + wrk_range(seconds))]
    file = write_lines(bodies, folder, "blocks.txt")
    result = run_wrk(
        "wrk", f"{url}/walletsolidity/gettransactioninfobyblocknum", file, method="POST",
        seconds=seconds, connections=concurrency,
    )  # fmt: skip
    if result.errors or result.wraps:
        raise SystemExit(f"wrk pass: {result.errors} errors, {result.wraps} blocks asked twice")
    return Pass("wrk → simulator (ceiling)", result.requests, result.seconds, result.requests)


def wrk_range(seconds: float) -> int:
    return int(2000 * seconds)


def start_simulator(args: argparse.Namespace, head: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "tests.fakes.tron_node", "--seed", str(SEED),
        "--first-block", str(FIRST), "--head", str(head),
        "--noise-usdt", str(args.transfers), "--noise-other", "20",
        "--watched", str(args.addresses), "--ours-per-block", str(args.ours),
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def raw_pass(url: str, start: int, blocks: int, concurrency: int) -> Pass:
    """Baseline: what the simulator serves with no watcher work at all."""
    numbers = iter(range(start, start + blocks))
    requests = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal requests
        for number in numbers:
            response = await client.post(
                f"{url}/walletsolidity/gettransactioninfobyblocknum", json={"num": number}
            )
            response.raise_for_status()
            requests += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return Pass("raw simulator", blocks, time.perf_counter() - began, requests)


async def watcher_pass(
    name: str, url: str, db_url: str, start: int, blocks: int, args: argparse.Namespace
) -> Pass:
    """The real loop: heads, block infos, decode, ingest + cursor in one transaction per batch."""
    engine = create_engine(db_url)
    sessions = create_session_factory(engine)
    client = TronNodeClient([url], timeout_s=30, max_connections=args.concurrency * 2)
    reader = TronReader(client, usdt_contract=TRON_USDT_CONTRACT, concurrency=args.concurrency)
    config = StreamerConfig(
        chain="tron",
        rules=rules_for(Settings(), "tron"),
        batch_blocks=args.batch,
        poll_seconds=0,
        start_block=start,
    )
    streamer = Streamer(reader, sessions, config)
    began = time.perf_counter()
    try:
        while streamer.progress.blocks < blocks:
            step = await streamer.run_step()
            if step.kind != "ingested":
                raise SystemExit(f"{name}: step {step.kind}: {step.error}; is the simulator running?")
            if step.end is not None and step.end >= start + blocks - 1:
                break
        seconds = time.perf_counter() - began
        done = streamer.progress.blocks
        return Pass(name, done, seconds, reader.requests, streamer.progress.transfers)
    finally:
        await reader.aclose()
        await engine.dispose()


async def add_wallets(db_url: str, count: int) -> None:
    engine = create_engine(db_url)
    now = datetime.now(UTC)
    rows = [
        {
            "chain": "tron",
            "address": watched_address(i, SEED),
            "enabled": True,
            "label": "",
            "created_at": now,
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Wallet), rows)
    await engine.dispose()


def fresh_db(folder: Path, name: str) -> str:
    url = f"sqlite+aiosqlite:///{folder / name}"
    upgrade(url)
    return url


async def follow_pass(db_url: str, track: bool, blocks: int = 60) -> float:
    """Node requests per new block while the watcher follows the head, one
    step per block (its 3 s poll on a chain producing a block every 3 s)."""
    from tests.fakes.tron_chain import TronChain
    from tests.fakes.tron_node import TronNodeSim

    await add_wallets(db_url, 1)
    chain = TronChain(seed=SEED, first_block=FIRST, head=FIRST + 200, noise_usdt=20, noise_other=5)
    engine = create_engine(db_url)
    with TronNodeSim(chain) as node:
        reader = TronReader(TronNodeClient([node.url]), usdt_contract=TRON_USDT_CONTRACT)
        config = StreamerConfig(
            chain="tron", rules=rules_for(Settings(), "tron"), poll_seconds=0,
            start_block=chain.solid, track_unconfirmed=track,
        )  # fmt: skip
        streamer = Streamer(reader, create_session_factory(engine), config)
        try:
            while (await streamer.run_step()).kind != "caught_up":
                pass
            before = reader.requests
            for _ in range(blocks):
                chain.advance(1)
                step = await streamer.run_step()
                if step.kind == "error":
                    raise SystemExit(f"following the head: {step.error}")
            return (reader.requests - before) / blocks
        finally:
            await reader.aclose()
            await engine.dispose()


def summarise_follow(off: float, on: float) -> None:
    print(f"\nfollowing the head, requests per block: {off:.2f} final blocks only, {on:.2f} with head blocks")
    report(Figure("tron: extra requests per block, head blocks read", on - off, "req", "<= 1.0"))


def summarise(passes: list[Pass], args: argparse.Namespace) -> None:
    print(
        f"\nTRON catch-up: {args.transfers} unrelated USDT transfers + 20 other txs per block, "
        f"{args.ours} to watched addresses; batch {args.batch}, concurrency {args.concurrency}"
    )
    print(
        f"{'pass':<28}{'blocks':>8}{'blocks/s':>11}{'req/block':>11}{'x real time':>13}{'transfers':>11}"
        f"{'node cpu':>10}"
    )
    for p in passes:
        print(
            f"{p.name:<28}{p.blocks:>8}{p.per_second:>11.1f}{p.requests_per_block:>11.3f}"
            f"{p.per_second * TRON_BLOCK_S:>13.0f}{p.transfers:>11}{p.node_cpu:>10.0%}"
        )
    ceiling, raw, one, many = passes
    print(f"\nhttpx client vs wrk on the simulator:        {raw.per_second / ceiling.per_second:.2f}")
    print(f"watcher 10k addresses vs wrk (ceiling):      {many.per_second / ceiling.per_second:.2f}")
    print(f"watcher 10k addresses vs raw simulator rate: {many.per_second / raw.per_second:.2f}")
    print(f"watcher 10k addresses vs 1 address:         {many.per_second / one.per_second:.2f}")
    per_block = f"{many.requests_per_block:.3f} vs {one.requests_per_block:.3f}"
    print(f"requests per block, 10k vs 1 address:       {per_block}")
    base = f"wrk → simulator {ceiling.per_second:.0f} blocks/s, same run"
    report(Figure("tron: watcher 10k addresses", many.per_second, "blocks/s", ">= 100", base))
    report(Figure("tron: watcher 10k ÷ simulator ceiling", many.per_second / ceiling.per_second, "ratio"))
    report(Figure("tron: node requests per block (10k)", many.requests_per_block, "req", "<= 1.05"))


async def run(
    args: argparse.Namespace, urls: tuple[str, str, str], node_pid: int, folder: Path
) -> list[Pass]:
    url, db_one, db_many = urls
    await add_wallets(db_one, 1)
    await add_wallets(db_many, args.addresses)
    n = args.blocks

    async def timed(work: Awaitable[Pass]) -> Pass:
        cpu, began = cpu_seconds(node_pid), time.perf_counter()
        done = await work
        done.node_cpu = (cpu_seconds(node_pid) - cpu) / (time.perf_counter() - began)
        return done

    # Separate ranges of one chain, so every pass reads blocks the simulator has not rendered yet.
    ceiling = await timed(
        asyncio.to_thread(wrk_pass, url, FIRST + 3 * n, WRK_SECONDS, args.concurrency, folder)
    )
    raw = await timed(raw_pass(url, FIRST, n, args.concurrency))
    one = await timed(watcher_pass("watcher, 1 address", url, db_one, FIRST + n, n, args))
    many = await timed(
        watcher_pass(f"watcher, {args.addresses:,} addresses", url, db_many, FIRST + 2 * n, n, args)
    )
    return [ceiling, raw, one, many]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=600, help="blocks per pass")
    parser.add_argument("--batch", type=int, default=100, help="blocks per watcher step")
    parser.add_argument("--concurrency", type=int, default=8, help="block requests in flight")
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=200, help="unrelated USDT transfers per block")
    parser.add_argument("--ours", type=int, default=2, help="transfers to watched addresses per block")
    args = parser.parse_args()
    # Solid head (19 behind) past the last pass.
    head = FIRST + 3 * args.blocks + wrk_range(WRK_SECONDS) + 40
    with tempfile.TemporaryDirectory() as folder:
        db_one = fresh_db(Path(folder), "one.db")
        db_many = fresh_db(Path(folder), "many.db")
        proc, url = start_simulator(args, head)
        try:
            summarise(asyncio.run(run(args, (url, db_one, db_many), proc.pid, Path(folder))), args)
            off = asyncio.run(follow_pass(fresh_db(Path(folder), "follow-off.db"), track=False))
            on = asyncio.run(follow_pass(fresh_db(Path(folder), "follow-on.db"), track=True))
            summarise_follow(off, on)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
