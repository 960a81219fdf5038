"""Benchmark: how long `usdtpay --help` and `usdtpay status` take to start.

Each command runs --runs times as a fresh process (status against a fresh,
migrated SQLite database); the median wall time is the figure, beside the
baseline of the bare interpreter (`python -c pass`) measured the same way.
Goal: both under 0.5 s. Beside it, the median CPU time (user + system) of the
same runs: on a busy machine the wall time mostly measures waiting for a core.
A module without current bytecode is compiled on every start when bytecode is
not written (PYTHONDONTWRITEBYTECODE, a read-only install); the run says so,
since `make setup` (uv sync with compile-bytecode, then compileall) is the fix.

    python -m scripts.bench.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.bench import _data
from scripts.bench._harness import ROOT, Figure, bench_env, report, usdtpay_command

PACKAGES = ("engine", "api", "watchers", "bridges")


def _compiled(source: Path) -> bool:
    cached = Path(importlib.util.cache_from_source(str(source)))
    return cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime


def bytecode_notes() -> list[str]:
    import sqlalchemy

    notes = []
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        notes.append("PYTHONDONTWRITEBYTECODE is set: a module without a .pyc compiles on every start")
    if sqlalchemy.__file__ is None or not _compiled(Path(sqlalchemy.__file__)):
        notes.append("the installed packages have no bytecode: `make setup` (uv sync compiles it)")
    stale = sum(not _compiled(source) for name in PACKAGES for source in (ROOT / name).rglob("*.py"))
    if stale:
        notes.append(f"{stale} of the project's modules have no current bytecode: `make setup`")
    return notes


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], runs: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu, began = _children_cpu(), time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
        walls.append(time.perf_counter() - began)
        cpus.append(_children_cpu() - cpu)
        if done.returncode != 0:
            raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode()[-1500:]}")
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database("sqlite", folder) as url:
            env = bench_env(url)
            for note in bytecode_notes():
                print(f"  note: {note}")
            floor, floor_cpu = timed([sys.executable, "-c", "pass"], env, args.runs, folder)
            base = f"bare interpreter {statistics.median(floor):.3f} s"
            base_cpu = f"bare interpreter {statistics.median(floor_cpu):.3f} s"
            for label, extra in (("usdtpay --help", ["--help"]), ("usdtpay status", ["status"])):
                times, cpus = timed([*usdtpay_command(), *extra], env, args.runs, folder)
                print(f"  {label}: runs {', '.join(f'{t:.2f}' for t in times)} s, ", end="")
                print(f"CPU {', '.join(f'{t:.2f}' for t in cpus)} s")
                report(Figure(f"{label} start-up (median)", statistics.median(times), "s", "< 0.5", base))
                report(Figure(f"{label} start-up CPU (median)", statistics.median(cpus), "s", "", base_cpu))
    # Slow start-up is a figure, not a crash: the exit status stays 0.
    return 0


if __name__ == "__main__":
    sys.exit(main())
