"""Benchmark: the API process's resident memory (RSS) after N creates.

A fresh SQLite database and one `usdtpay serve` process; wrk sends
--creates pre-signed creates (each a new order) in chunks, and the
server's RSS is read from /proc after start-up (the baseline) and after
each chunk, and on SQLite the size of the WAL file beside it (under steady
creates it grew without end before engine.sqlite_checkpoints restarted
it). The goal (RSS <= 150 MB) is stated for 100,000 creates:
`--creates 100000` runs that (a few minutes); the default run is bounded
and reports its growth per 10,000 creates instead of the goal.

    python -m scripts.bench.memory [--creates 10000] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from engine.db import is_sqlite
from engine.sqlite_checkpoints import Checkpointer
from scripts.bench import _data
from scripts.bench._harness import Figure, Server, report, rss_mb, run_wrk, write_lines

FULL = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--creates", type=int, default=10_000, help=f"{FULL} for the issue's goal")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database(args.db, folder) as url, Server(url, folder) as server:
            idle = rss_mb(server.pid)
            bodies = write_lines(_data.create_bodies("mem", args.creates), folder, "bodies.txt")
            used = errors = 0
            wal = _wal_file(url)
            peak_wal = 0.0
            while used < args.creates:
                part = run_wrk(
                    "create", server.base + "/api/pay/create", bodies, method="POST",
                    seconds=args.chunk_seconds, start=used, then_path="/healthz", server_pid=server.pid,
                )  # fmt: skip
                used += part.lines_sent
                errors += part.errors
                wal_mb = _size_mb(wal)
                peak_wal = max(peak_wal, wal_mb)
                shown = f", WAL file {wal_mb:6.1f} MB" if wal else ""
                rss = rss_mb(server.pid)
                print(f"  {min(used, args.creates):>7} creates sent: RSS {rss:6.1f} MB{shown}", flush=True)
            after = rss_mb(server.pid)
            server.stop()
            stored = _data.order_count(url)
    print(f"  stored orders: {stored} of {args.creates} sent ({errors} errors)")
    base = f"{idle:.1f} MB after start-up"
    goal = "<= 150" if args.creates >= FULL else ""
    note = "" if goal else f"bounded run; `--creates {FULL}` for the goal (<= 150 MB)"
    report(Figure(f"{args.db}: RSS after {stored:,} creates", after, "MB", goal, base, note))
    if wal:
        bound = f"restarted past {Checkpointer.restart_bytes // 2**20} MB of log"
        report(Figure(f"{args.db}: largest WAL file seen", peak_wal, "MB", baseline=bound))
    if not goal:
        growth = (after - idle) / max(1, stored) * 10_000
        report(Figure(f"{args.db}: RSS growth per 10k creates", growth, "MB", baseline=base))
        print(f"  ({note})")
    return 0 if errors == 0 else 1


def _wal_file(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database + "-wal") if is_sqlite(url) and database else None


def _size_mb(path: Path | None) -> float:
    try:
        return path.stat().st_size / 2**20 if path else 0.0
    except FileNotFoundError:
        return 0.0


if __name__ == "__main__":
    sys.exit(main())
