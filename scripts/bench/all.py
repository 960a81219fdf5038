"""Run every benchmark module in scripts/bench (`make bench`).

Each module is run as `python -m scripts.bench.<name>` in its own process
(its own defaults, no shared state, a crash stays contained) and prints its
figures and its ratio against a baseline measured in the same run. Modules
whose names start with "_" are helpers and skipped.

    python -m scripts.bench.all                  # all of them
    python -m scripts.bench.all create_orders    # only these
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def benchmark_names() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_")]
    return sorted(n for n in names if n != "all")


def main(argv: list[str] | None = None) -> int:
    wanted = set(sys.argv[1:] if argv is None else argv)
    names = [n for n in benchmark_names() if not wanted or n in wanted]
    if wanted - set(names):
        print(f"unknown benchmark(s): {', '.join(sorted(wanted - set(names)))}; have {benchmark_names()}")
        return 2
    failed: list[str] = []
    for i, name in enumerate(names, 1):
        print(f"\n=== [{i}/{len(names)}] scripts.bench.{name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"scripts.bench.{name}"], cwd=ROOT)
        outcome = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"--- {name}: {outcome} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}; rerun one with python -m scripts.bench.<name>")
        return 1
    print(f"\nall {len(names)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
