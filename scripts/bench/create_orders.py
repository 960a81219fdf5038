"""Benchmark: signed order creation over HTTP vs the same server's /healthz.

Starts the real server (`usdtpay serve`) as a subprocess on a fresh SQLite
file with a fixed rate, one merchant and several TRON wallets; then, with
concurrent httpx clients, measures for a bounded time

  1. GET /healthz         (baseline: the framework and the network, no DB)
  2. POST /api/pay/create (signed, unique order numbers, varied prices)

and prints requests/s, p50/p99 latency and the ratio orders/s ÷ healthz/s.
Goal on SQLite: ratio ≥ 0.5.

    python -m scripts.bench.create_orders [--seconds 12] [--rounds 4] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from engine.addresses import tron_from_bytes
from engine.db import create_engine, create_session_factory
from engine.merchants import add_merchant, add_wallet
from engine.migrate import upgrade
from engine.signing import md5_sign

PID = "10001"
KEY = "bench-merchant-key-0123456789abcdef"


@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<22} {self.per_second:9.1f} req/s   p50 {self.percentile(0.5):7.2f} ms   "
            f"p99 {self.percentile(0.99):7.2f} ms   ({self.count} ok, {self.errors} errors)"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare_database(url: str, wallets: int) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            now = datetime.now(UTC)
            await add_merchant(session, PID, KEY, "bench", now)
            for n in range(wallets):
                await add_wallet(session, "tron", tron_from_bytes((1000 + n).to_bytes(20, "big")), now)
            await session.commit()
    finally:
        await engine.dispose()


def start_server(url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("USDTPAY_")},
        "USDTPAY_DATABASE_URL": url,
        "USDTPAY_RATE_FIXED": "7.20",
        "USDTPAY_LOG_LEVEL": "WARNING",
        # The per-merchant / per-IP limit would otherwise answer 429 to a benchmark.
        "USDTPAY_API__RATE_LIMIT_PER_MINUTE": "1000000000",
        "USDTPAY_NOTIFY__ALLOW_HOSTS": '["localhost", "127.0.0.0/8", "::1/128"]',
    }
    cmd = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = str(root)
    return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"usdtpay serve exited with {proc.returncode}:\n{err[-2000:]}")
            try:
                if (await client.get(base + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"usdtpay serve did not answer /healthz within {limit_s} s")


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def measure(name: str, base: str, send: Request, seconds: float, concurrency: int) -> Result:
    """`concurrency` clients send back to back until `seconds` have passed."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        stop_at = start + seconds

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                response = await send(client, next(counter))
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
                    if errors <= 3:
                        print(f"  {name}: HTTP {response.status_code} {response.text[:200]}", file=sys.stderr)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Result(name, len(latencies), errors, elapsed, latencies)


def healthz(client: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
    return client.get("/healthz")


def create_order_request(run_id: str) -> Request:
    rnd = random.Random(run_id)

    def send(client: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
        fields: dict[str, object] = {
            "pid": PID,
            "chain_type": 1,
            "order_no": f"{run_id}-{n}",
            # Varied prices, as a real shop sends: spreads the unique amounts.
            "amount": f"{rnd.randint(1000, 99999) / 100:.2f}",
            "type": 1,
            "currency": "CNY",
            "scanpay": 1,
            # Resolves from /etc/hosts: the notify_url check runs without
            # depending on this machine's DNS (a dead resolver costs seconds).
            "notify_url": "http://localhost:9/notify",
            "param": '{"user_id": "bench"}',
        }
        fields["signature"] = md5_sign(fields, KEY)
        return client.post("/api/pay/create", json=fields)

    return send


def add(total: Result, part: Result) -> None:
    total.count += part.count
    total.errors += part.errors
    total.seconds += part.seconds
    total.latencies.extend(part.latencies)


async def bench(seconds: float, concurrency: int, wallets: int, rounds: int = 4) -> tuple[Result, Result]:
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await prepare_database(url, wallets)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(url, port, Path(tmp))
        try:
            await wait_ready(base, proc)
            print(
                f"server up on {base}; {concurrency} clients, {seconds:.0f} s per side in {rounds} rounds",
                flush=True,
            )
            await measure("warm-up", base, healthz, 1, concurrency)
            await measure("warm-up", base, create_order_request("warm"), 1, concurrency)
            # Alternate short rounds so a change in machine load hits both alike.
            baseline = Result("GET /healthz", 0, 0, 0.0, [])
            creates = Result("POST /api/pay/create", 0, 0, 0.0, [])
            for n in range(rounds):
                part = seconds / rounds
                add(baseline, await measure("GET /healthz", base, healthz, part, concurrency))
                add(
                    creates, await measure("create", base, create_order_request(f"run{n}"), part, concurrency)
                )
            print(baseline.line(), flush=True)
            print(creates.line(), flush=True)
            return baseline, creates
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=12.0, help="time per side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=4, help="alternating healthz/create rounds")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--wallets", type=int, default=5, help="TRON receiving addresses")
    args = parser.parse_args(argv)
    baseline, creates = asyncio.run(bench(args.seconds, args.concurrency, args.wallets, args.rounds))
    ratio = creates.per_second / baseline.per_second if baseline.per_second else 0.0
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"ratio create/healthz: {ratio:.2f} ({verdict} the 0.5 goal on SQLite)")
    return 0 if creates.errors == 0 and baseline.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
