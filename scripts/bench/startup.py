"""Benchmark: how long `usdtpay --help` and `usdtpay status` take to start.

Each command runs --runs times as a fresh process (status against a fresh,
migrated SQLite database); the median wall time is the figure, beside the
baseline of the bare interpreter (`python -c pass`) measured the same way.
Goal: both under 0.5 s.

    python -m scripts.bench.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.bench import _data
from scripts.bench._harness import Figure, bench_env, report, usdtpay_command


def timed(command: list[str], env: dict[str, str], runs: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode()[-1500:]}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database("sqlite", folder) as url:
            env = bench_env(url)
            floor = timed([sys.executable, "-c", "pass"], env, args.runs, folder)
            base = f"bare interpreter {statistics.median(floor):.3f} s"
            for label, extra in (("usdtpay --help", ["--help"]), ("usdtpay status", ["status"])):
                times = timed([*usdtpay_command(), *extra], env, args.runs, folder)
                print(f"  {label}: runs {', '.join(f'{t:.2f}' for t in times)} s")
                report(Figure(f"{label} start-up (median)", statistics.median(times), "s", "< 0.5", base))
    # Slow start-up is a figure, not a crash: the exit status stays 0.
    return 0


if __name__ == "__main__":
    sys.exit(main())
