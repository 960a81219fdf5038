"""Benchmark: merchant notification delivery against loopback merchants.

Runs, in one go and on one fresh database (SQLite by default, or
--database-url for PostgreSQL):

  1. baseline: wrk POSTing a signed usdt notification to the merchant
     receivers (tests/fakes/merchant_receiver.py, verifying every
     signature) with the notifier's total concurrency. A receiver is a
     Python server, so there are --receivers of them, each its own process,
     the merchants' notify URLs spread over them: their ceiling, not one
     process's GIL, is the baseline;
  2. throughput: N paid orders already in the outbox, W notifier worker
     processes started, time until all are delivered → deliveries/s, the
     ratio to the baseline, and the CPU share the notifier and the
     receivers used meanwhile (receivers far from busy: they were not the
     limit);
  3. latency: the workers idle and polling at the default interval while
     orders are paid at a steady rate; the time from "outbox row committed"
     to the first attempt's start, p50 / p99 (goal: p99 < 1 s).

    python -m scripts.bench.notify_throughput [--orders 2000] [--workers N] [--receivers 2]
        [--concurrency 16] [--latency-seconds 10] [--rate 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine.clock import SystemClock
from engine.config import NotifySettings, Settings
from engine.db import SessionFactory, create_engine, create_session_factory
from engine.ids import new_platform_id
from engine.merchants import add_merchant
from engine.migrate import upgrade
from engine.models import Merchant, Notification, NotificationAttempt, Order
from engine.notify.outbox import enqueue_order_event
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from scripts.bench._harness import Figure, WrkResult, cpu_seconds, report, run_wrk, write_lines

KEY = "bench-merchant-key-0123456789abcdef"
MERCHANTS = 20
ROOT = Path(__file__).resolve().parents[2]


def notify_settings(url: str, concurrency: int) -> Settings:
    notify = NotifySettings(
        allow_hosts=["127.0.0.1"], workers=concurrency, batch_size=max(50, 2 * concurrency)
    )
    return Settings(database_url=url, notify=notify)


# -- child processes -------------------------------------------------------
def serve_receiver() -> None:
    from tests.fakes.merchant_receiver import MerchantReceiver

    with MerchantReceiver(KEY) as receiver:
        print(receiver.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        bad = sum(1 for r in receiver.received if not r.signature_ok)
        print(f"{len(receiver.received)} {bad}", flush=True)


async def run_worker(url: str, concurrency: int) -> None:
    settings = notify_settings(url, concurrency)
    engine = create_engine(url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with new_client(settings) as client:
        notifier = Notifier(create_session_factory(engine), settings, SystemClock(), client)
        print("ready", flush=True)
        await notifier.run(stop)
    await engine.dispose()


def spawn(*args: str, stdin: int | None = None, quiet: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.bench.notify_throughput", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=stdin,
        stdout=subprocess.PIPE,
        # A receiver prints a traceback for every connection wrk resets at
        # its end; bad signatures are counted and reported instead.
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )


async def start_workers(db_url: str, args: argparse.Namespace) -> list[subprocess.Popen[str]]:
    """Worker processes, returned once each has imported everything and is
    about to poll (start-up is not part of any figure)."""
    workers = [spawn("--worker", db_url, str(args.concurrency)) for _ in range(args.workers)]
    for proc in workers:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"worker did not start: {line!r}")
    return workers


def stop_workers(workers: list[subprocess.Popen[str]]) -> None:
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        proc.wait(timeout=30)


def total_cpu(procs: list[subprocess.Popen[str]]) -> float:
    return sum(cpu_seconds(p.pid) for p in procs)


# -- data --------------------------------------------------------------------
async def make_merchants(sessions: SessionFactory) -> list[Merchant]:
    async with sessions() as session:
        now = datetime.now(UTC)
        merchants = [
            await add_merchant(session, f"9{i:04d}", KEY, f"bench {i}", now) for i in range(MERCHANTS)
        ]
        await session.commit()
    return merchants


async def pay_orders(
    sessions: SessionFactory, merchants: list[Merchant], urls: list[str], count: int
) -> list[int]:
    """Paid usdt orders with their outbox rows, committed together, in
    batches; merchant i notifies urls[i % len(urls)]. Returns the ids."""
    ids: list[int] = []
    for start in range(0, count, 200):
        async with sessions() as session:
            now = datetime.now(UTC)
            for i in range(start, min(count, start + 200)):
                m = i % len(merchants)
                order = Order(
                    id=new_platform_id(), merchant_id=merchants[m].id,
                    merchant_order_no=f"B{new_platform_id()}",
                    face="usdt", currency="CNY", fiat_fen=72000 + i, usdt_units=100_000_000 + i,
                    chain="tron", status="paid", created_at=now - timedelta(minutes=1),
                    expires_at=now + timedelta(minutes=29), paid_at=now, notify_url=urls[m % len(urls)],
                    param="", extra={},
                )  # fmt: skip
                session.add(order)
                await session.flush()
                row = await enqueue_order_event(session, order, merchants[m], "paid", now)
                assert row is not None
                ids.append(row.id)
            await session.commit()
    return ids


async def delivered(sessions: SessionFactory) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Notification).where(Notification.status == "delivered")
        return int(await session.scalar(stmt) or 0)


# -- phases ------------------------------------------------------------------
def baseline(urls: list[str], body: str, concurrency: int, seconds: float, folder: Path) -> float:
    """Requests/s wrk gets from all receivers at once (signed body, the
    receivers verify it), `concurrency` connections spread over them."""
    requests = write_lines([body], folder, "notify-body.txt")
    share = [concurrency // len(urls) + (i < concurrency % len(urls)) for i in range(len(urls))]

    def one(i: int) -> WrkResult:
        return run_wrk(
            "receiver", urls[i], requests, method="POST", seconds=seconds, connections=max(1, share[i])
        )

    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(one, range(len(urls))))
    for r in results:
        if r.errors:
            raise RuntimeError(f"receiver baseline: {r.errors} errors {r.detail}")
    rate = sum(r.per_second for r in results)
    print(f"  wrk used {sum(r.client_cpu for r in results):.0%} of a core in all for {rate:,.0f} req/s")
    return rate


async def busy_seconds(sessions: SessionFactory) -> float:
    """From the first attempt's start to the last delivery, by the workers'
    own clocks: process start-up is not delivery time."""
    async with sessions() as session:
        first = await session.scalar(select(func.min(NotificationAttempt.started_at)))
        last = await session.scalar(select(func.max(Notification.delivered_at)))
    assert first is not None and last is not None
    return max(1e-3, float((last - first).total_seconds()))


async def throughput(
    sessions: SessionFactory,
    ids: list[int],
    db_url: str,
    args: argparse.Namespace,
    receivers: list[subprocess.Popen[str]],
) -> float:
    workers = await start_workers(db_url, args)
    try:
        cpu_w, cpu_r, began = total_cpu(workers), total_cpu(receivers), time.perf_counter()
        shown = time.perf_counter()
        while (done := await delivered(sessions)) < len(ids):
            if time.perf_counter() - shown > 2:
                print(f"  delivered {done}/{len(ids)}", flush=True)
                shown = time.perf_counter()
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - began
        used_w, used_r = total_cpu(workers) - cpu_w, total_cpu(receivers) - cpu_r
        elapsed = await busy_seconds(sessions)
        print(
            f"  delivered {len(ids)}/{len(ids)} in {elapsed:.2f} s; cpu over {wall:.1f} s: "
            f"notifier {used_w / wall:.0%}, {len(receivers)} receivers {used_r / wall:.0%} "
            f"(of {len(receivers)} cores they could use)"
        )
        return len(ids) / elapsed
    finally:
        stop_workers(workers)


async def latency(
    sessions: SessionFactory,
    merchants: list[Merchant],
    urls: list[str],
    db_url: str,
    args: argparse.Namespace,
) -> list[float]:
    """Seconds from commit to first attempt, one paid order at a time."""
    workers = await start_workers(db_url, args)
    committed: dict[int, float] = {}
    try:
        await asyncio.sleep(1.0)  # let the workers go idle
        deadline = time.perf_counter() + args.latency_seconds
        while time.perf_counter() < deadline:
            [nid] = await pay_orders(sessions, merchants, urls, 1)
            committed[nid] = time.time()
            if len(committed) % 50 == 0:
                print(f"  paid {len(committed)} orders", flush=True)
            await asyncio.sleep(1 / args.rate)
        for _ in range(150):  # up to 30 s for the last ones
            if await delivered(sessions) >= args.orders + len(committed):
                break
            await asyncio.sleep(0.2)
    finally:
        stop_workers(workers)
    async with sessions() as session:
        stmt = (
            select(NotificationAttempt.notification_id, func.min(NotificationAttempt.started_at))
            .where(NotificationAttempt.notification_id.in_(list(committed)))
            .group_by(NotificationAttempt.notification_id)
        )
        firsts = {nid: first for nid, first in await session.execute(stmt)}
    missing = len(committed) - len(firsts)
    if missing:
        print(f"  warning: {missing} orders had no attempt within 30 s")
    return [max(0.0, firsts[n].timestamp() - t) for n, t in committed.items() if n in firsts]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def main(args: argparse.Namespace, db_url: str, folder: Path) -> None:
    engine = create_engine(db_url)
    sessions = create_session_factory(engine)
    receivers = [spawn("--receiver", stdin=subprocess.PIPE, quiet=True) for _ in range(args.receivers)]
    urls = []
    for proc in receivers:
        assert proc.stdout is not None
        urls.append(f"http://127.0.0.1:{int(proc.stdout.readline())}/usdt/notify")
    try:
        merchants = await make_merchants(sessions)
        total = args.workers * args.concurrency
        print(f"database: {db_url.split('://')[0]}; {len(urls)} merchant receiver processes")
        ids = await pay_orders(sessions, merchants, urls, args.orders)
        async with sessions() as session:
            sample = await session.get(Notification, ids[0])
            assert sample is not None
            body = sample.body
        base = await asyncio.to_thread(baseline, urls, body, total, 5.0, folder)
        print(f"baseline: wrk, {total} connections over {len(urls)} receivers: {base:,.0f} requests/s")
        rate = await throughput(sessions, ids, db_url, args, receivers)
        print(f"notifier: {args.workers} workers × {args.concurrency} sends: {rate:,.0f} deliveries/s")
        report(
            Figure(
                "notify: deliveries/s ÷ receivers' ceiling", rate / base, "ratio",
                baseline=f"wrk → {len(urls)} receivers {base:,.0f} req/s, same run",
            )
        )  # fmt: skip
        report(Figure("notify: deliveries/s", rate, "per s"))
        lat = await latency(sessions, merchants, urls, db_url, args)
        print(
            f"paid → first attempt over {len(lat)} orders at {args.rate}/s: p50 {pct(lat, 0.5):.0f} ms, "
            f"p90 {pct(lat, 0.9):.0f} ms, max {pct(lat, 1.0):.0f} ms"
        )
        report(Figure("notify: paid → first attempt p99", pct(lat, 0.99), "ms", goal="< 1000"))
    finally:
        for proc in receivers:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            tail = proc.stdout.read().split()
            proc.wait(timeout=30)
            if len(tail) == 2:
                print(f"receiver: {tail[0]} requests, {tail[1]} with a bad signature")
        await engine.dispose()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument(
        "--workers",
        type=int,
        help="notifier processes (default 2 on PostgreSQL, 1 on SQLite, whose single writer is the design)",
    )
    parser.add_argument("--receivers", type=int, default=2, help="merchant receiver processes")
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight per worker")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, default=20.0, help="orders paid per second in the latency phase"
    )
    parser.add_argument(
        "--database-url", help="e.g. postgresql+asyncpg://postgres@127.0.0.1/bench (must exist)"
    )
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("URL", "CONCURRENCY"), help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    cli = parse()
    if cli.receiver:
        serve_receiver()
    elif cli.worker:
        asyncio.run(run_worker(cli.worker[0], int(cli.worker[1])))
    else:
        if cli.workers is None:
            cli.workers = 2 if cli.database_url and cli.database_url.startswith("postgresql") else 1
        with tempfile.TemporaryDirectory() as tmp_dir:
            url = cli.database_url or f"sqlite+aiosqlite:///{tmp_dir}/bench.db"
            upgrade(url)  # runs its own event loop, so before ours
            asyncio.run(main(cli, url, Path(tmp_dir)))
