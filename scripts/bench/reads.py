"""Benchmark: the read endpoints against /healthz, driven by wrk.

A fresh database (SQLite by default) gets --orders orders through the API,
then wrk (16 connections) alternates short rounds of

  GET /healthz              the client's ceiling and the baseline
  GET /api/pay/query        signed (merchant key), a different stored order each time
  GET /api/cashier_info     the payer page's order read (public, by platform id)
  GET /api/check_order      the payer page's status poll

and prints each one's req/s, p50/p99, errors, CPU of wrk and the server,
and its ratio to /healthz (goal for the query: >= 0.5).

    python -m scripts.bench.reads [--seconds 6] [--rounds 3] [--orders 2000] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from scripts.bench import _data
from scripts.bench._harness import Figure, Server, WrkResult, load_line, merge, report, run_wrk, write_lines

GOALS = {"GET /api/pay/query": ">= 0.5"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=6.0, help="time per endpoint, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=2000, help="orders stored before the reads")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database(args.db, folder) as url, Server(url, folder) as server:
            stored = _data.populate(server.base, url, folder, args.orders)
            rows = _data.order_rows(url, args.orders)
            print(
                f"-- {args.db}: {stored} orders stored through the API; wrk -c{args.connections}", flush=True
            )
            files = {
                "GET /healthz": write_lines(["/healthz"], folder, "healthz.txt"),
                "GET /api/pay/query": write_lines(_data.query_paths([n for _, n in rows]), folder, "q.txt"),
                "GET /api/cashier_info": write_lines(
                    _data.cashier_paths([i for i, _ in rows], "cashier_info"), folder, "ci.txt"
                ),
                "GET /api/check_order": write_lines(
                    _data.cashier_paths([i for i, _ in rows], "check_order"), folder, "co.txt"
                ),
            }
            for name, path in files.items():  # warm-up
                run_wrk(name, server.base, path, seconds=1, connections=args.connections)
            parts: dict[str, list[WrkResult]] = {name: [] for name in files}
            for _ in range(args.rounds):
                for name, path in files.items():
                    parts[name].append(
                        run_wrk(
                            name, server.base, path, seconds=args.seconds / args.rounds,
                            server_pid=server.pid, connections=args.connections,
                        )
                    )  # fmt: skip
    results = {name: merge(p) for name, p in parts.items()}
    return summarise(args.db, results)


def summarise(backend: str, results: dict[str, WrkResult]) -> int:
    health = results["GET /healthz"]
    for result in results.values():
        print(result.line())
    ceiling = health.per_second / health.client_cpu if health.client_cpu else float("inf")
    print(
        f"  client check: wrk used {health.client_cpu:.0%} of a core for {health.per_second:,.0f} req/s "
        f"(≈ {ceiling:,.0f} req/s per core of wrk), the server {health.server_cpu:.0%}"
    )
    print(f"  {load_line()}")
    report(Figure(f"{backend}: GET /healthz (reads run)", health.per_second, "req/s", note="baseline"))
    errors = 0
    for name, result in results.items():
        errors += result.errors
        if result is health:
            continue
        report(Figure(f"{backend}: {name}", result.per_second, "req/s"))
        report(
            Figure(
                f"{backend}: {name.removeprefix('GET ')} ÷ healthz",
                result.per_second / health.per_second,
                "ratio",
                goal=GOALS.get(name, ""),
                baseline=f"/healthz {health.per_second:,.0f} req/s, same run",
                note=f"per server cpu-s: {result.per_cpu_second / health.per_cpu_second:.3f}",
            )
        )
    report(Figure(f"{backend}: read errors", errors, "count", goal="<= 0"))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
