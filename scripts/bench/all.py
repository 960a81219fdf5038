"""Run every benchmark module in scripts/bench (`make bench`), then print
every figure beside its baseline and the issue's goal in one table.

Each module is run as `python -m scripts.bench.<name>` in its own process
(its own defaults, no shared state, a crash stays contained) and prints its
figures and its ratio against a baseline measured in the same run; it also
appends them to a results file that this script reads for the summary.
Modules whose names start with "_" are helpers and skipped.

    python -m scripts.bench.all                  # all of them (bounded: a few minutes)
    python -m scripts.bench.all create_orders    # only these
    python -m scripts.bench.all --full           # memory with 100,000 creates (the goal's N)
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS_ENV = "USDTPAY_BENCH_RESULTS"  # as in scripts.bench._harness
FULL_ARGS = {"memory": ["--creates", "100000"]}


def benchmark_names() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_")]
    return sorted(n for n in names if n != "all")


def summary(results: Path) -> list[str]:
    if not results.exists():
        return []
    lines = ["", "=== summary: figure, baseline (same run) and goal ==="]
    for raw in results.read_text().splitlines():
        f = json.loads(raw)
        verdict = {None: "", True: "met", False: "NOT met"}[f["met"]]
        goal = f"goal {f['goal']}: {verdict}" if f["goal"] else ""
        base = f"baseline: {f['baseline']}" if f["baseline"] else ""
        lines.append(f"  {f['name']:<44} {f['value']:>11.3f} {f['unit']:<8} {goal:<22} {base}")
        if f.get("note"):
            lines.append(f"  {'':<44} {'':>11} {'':<8} ({f['note']})")
    return lines


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    full = "--full" in given
    wanted = {a for a in given if a != "--full"}
    names = [n for n in benchmark_names() if not wanted or n in wanted]
    if wanted - set(names):
        print(f"unknown benchmark(s): {', '.join(sorted(wanted - set(names)))}; have {benchmark_names()}")
        return 2
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="usdtpay-bench-results-") as tmp:
        results = Path(tmp) / "figures.jsonl"
        env = {**os.environ, RESULTS_ENV: str(results)}
        for i, name in enumerate(names, 1):
            print(f"\n=== [{i}/{len(names)}] scripts.bench.{name} ===", flush=True)
            started = time.monotonic()
            extra = FULL_ARGS.get(name, []) if full else []
            code = subprocess.call([sys.executable, "-m", f"scripts.bench.{name}", *extra], cwd=ROOT, env=env)
            outcome = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"--- {name}: {outcome} in {time.monotonic() - started:.0f} s", flush=True)
            if code != 0:
                failed.append(name)
        print("\n".join(summary(results)))
    if failed:
        print(f"\nfailed: {', '.join(failed)}; rerun one with python -m scripts.bench.<name>")
        return 1
    print(f"\nall {len(names)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
