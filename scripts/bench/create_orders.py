"""Benchmark: signed order creation (POST /api/pay/create) against /healthz,
driven by wrk, on SQLite and PostgreSQL.

For each database: a fresh database (SQLite file; a new PostgreSQL database
on 127.0.0.1:5432), `usdtpay serve` as one server process, then wrk with
16 connections alternating short rounds of

  1. GET /healthz          the client's ceiling against a trivial endpoint,
                           and the baseline (framework + network, no DB);
  2. POST /api/pay/create  pre-signed bodies, each a new order number.

It prints req/s, p50/p99, errors, the CPU share wrk and the server used
(the server near 100 % of a core and wrk well below it: the server is the
limit), the ratio create ÷ healthz against the goal, and checks the orders
stored equal the creates answered (and that no body was sent twice).

    python -m scripts.bench.create_orders [--seconds 12] [--rounds 3] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from scripts import scratch_pg
from scripts.bench import _data
from scripts.bench._harness import Figure, Server, WrkResult, load_line, merge, report, run_wrk, write_lines

GOALS = {"sqlite": ">= 0.25", "postgresql": ">= 0.2"}


def healthz_file(folder: Path) -> Path:
    return write_lines(["/healthz"], folder, "healthz.txt")


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> bool:
    print(
        f"\n-- {backend}: fresh database, one `usdtpay serve` process, wrk -c{args.connections}", flush=True
    )
    with _data.fresh_database(backend, folder) as url, Server(url, folder) as server:
        health = healthz_file(folder)
        create_url = server.base + "/api/pay/create"
        c = args.connections
        probe = run_wrk("warm-up /healthz", server.base, health, seconds=2, connections=c)
        # Creates cannot outrun /healthz: enough distinct bodies for that rate
        # (a fixed 4,000 for the warm-up wrapped once creates passed 2,000/s).
        warm = write_lines(
            _data.create_bodies("warm", int(probe.per_second * 2 * 1.5) + 1000), folder, "warm.txt"
        )
        warmed = run_wrk("warm-up create", create_url, warm, method="POST", seconds=2, connections=c)
        count = int(probe.per_second * args.seconds * 1.5) + 1000
        bodies = write_lines(_data.create_bodies(f"run-{backend}", count), folder, "bodies.txt")
        part = args.seconds / args.rounds
        healths: list[WrkResult] = []
        creates: list[WrkResult] = []
        used = 0
        for _ in range(args.rounds):  # alternate, so a change in machine load hits both alike
            healths.append(
                run_wrk(
                    "GET /healthz", server.base, health, seconds=part, server_pid=server.pid, connections=c
                )
            )
            creates.append(
                run_wrk(
                    "POST /api/pay/create", create_url, bodies, method="POST", seconds=part,
                    server_pid=server.pid, start=used, connections=c,
                )
            )  # fmt: skip
            used += creates[-1].lines_sent
        server.stop()
        stored = _data.order_count(url)
    ok = summarise(backend, merge(healths), merge([warmed, *creates]), merge(creates), stored)
    print_rounds(healths, creates)
    return ok


def print_rounds(healths: list[WrkResult], creates: list[WrkResult]) -> None:
    """Each round's ratio beside the run's: on a shared machine /healthz
    alone moved from 7,700 to 12,700 req/s between runs minutes apart, so
    the spread within one run says how far a single figure can be trusted."""
    pairs = list(zip(healths, creates, strict=True))
    rounds = [c.per_second / h.per_second for h, c in pairs if h.per_second]
    per_cpu = [c.per_cpu_second / h.per_cpu_second for h, c in pairs if h.per_cpu_second]
    print(f"  create ÷ healthz by round: {', '.join(f'{r:.3f}' for r in rounds)} "
          f"(per server cpu-s: {', '.join(f'{r:.3f}' for r in per_cpu)})")  # fmt: skip


def summarise(backend: str, health: WrkResult, every: WrkResult, create: WrkResult, stored: int) -> bool:
    """`every`: all create runs, warm-up included, for the stored-orders check."""
    print(health.line())
    print(create.line())
    ceiling = health.per_second / health.client_cpu if health.client_cpu else float("inf")
    ratio = create.per_second / health.per_second if health.per_second else 0.0
    answered, sent = every.requests - every.errors, every.lines_sent
    consistent = answered <= stored <= sent and every.wraps == 0
    print(
        f"  client check: wrk used {health.client_cpu:.0%} of a core for {health.per_second:,.0f} req/s "
        f"(≈ {ceiling:,.0f} req/s per core of wrk), the server {health.server_cpu:.0%}"
    )
    print(
        f"  stored orders {stored}: between the {answered} creates answered 2xx and the {sent} bodies sent "
        f"(wrk's clock cuts the last ones in flight), no body sent twice: {'yes' if consistent else 'NO'}"
    )
    cpu_ratio = create.per_cpu_second / health.per_cpu_second if health.per_cpu_second else 0.0
    print(f"  {load_line()}")
    report(Figure(f"{backend}: GET /healthz", health.per_second, "req/s", note="baseline"))
    report(Figure(f"{backend}: POST /api/pay/create", create.per_second, "req/s"))
    report(
        Figure(
            f"{backend}: create ÷ healthz",
            ratio,
            "ratio",
            goal=GOALS[backend],
            baseline=f"/healthz {health.per_second:,.0f} req/s, same run",
        )
    )
    report(
        Figure(
            f"{backend}: create ÷ healthz per server cpu-s", cpu_ratio, "ratio",
            baseline=f"/healthz {health.per_cpu_second:,.0f} per cpu-s",
            note="the same ratio with each side's requests per second of server CPU: robust to other load",
        )
    )  # fmt: skip
    p99_goal = "<= 25" if backend == "sqlite" else ""
    report(Figure(f"{backend}: create p99", create.p99_ms, "ms", goal=p99_goal))
    report(Figure(f"{backend}: create errors", create.errors + health.errors, "count", goal="<= 0"))
    return create.errors == 0 and health.errors == 0 and consistent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=12.0, help="time per side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating healthz/create rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        for backend in args.db.split(","):
            if backend == "postgresql" and not scratch_pg.reachable():
                print("\n-- postgresql: not reachable on 127.0.0.1:5432; skipped")
                ok = False
                continue
            ok = run_backend(backend, args, Path(tmp)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
