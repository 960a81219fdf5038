"""Profile the server under wrk with py-spy (not part of `make bench`).

Starts `usdtpay serve` on a fresh database, drives one endpoint with wrk
(16 connections) and samples the server with `py-spy record` meanwhile;
prints the functions with the most samples (own and inclusive) and keeps
the collapsed stacks (for a flame graph) in the given file.

    .venv/bin/pip install py-spy   # or: uv pip install --python .venv/bin/python py-spy
    python -m scripts.bench._profile [create|query|cashier_info|healthz] [--db sqlite]
        [--seconds 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bench import _data
from scripts.bench._harness import Server, run_wrk, write_lines


def requests_for(kind: str, server: Server, url: str, folder: Path, seconds: float) -> tuple[str, Path, str]:
    if kind == "create":
        bodies = _data.create_bodies("prof", int(4000 * seconds))
        return server.base + "/api/pay/create", write_lines(bodies, folder, "b.txt"), "POST"
    if kind in ("query", "cashier_info"):
        _data.populate(server.base, url, folder, 2000)
        rows = _data.order_rows(url, 2000)
        if kind == "query":
            paths = _data.query_paths([n for _, n in rows])
        else:
            paths = _data.cashier_paths([i for i, _ in rows], "cashier_info")
        return server.base, write_lines(paths, folder, "q.txt"), "GET"
    return server.base, write_lines(["/healthz"], folder, "h.txt"), "GET"


_LINE = re.compile(r":\d+\)$")


def function_of(frame: str) -> str:
    """`name (file.py:123)` as `name (file.py)`: py-spy names a frame by its
    current line, so one function at several lines would count as several."""
    return _LINE.sub(")", frame)


def top(collapsed: Path, limit: int = 40) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = partial = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [function_of(f) for f in stack.split(";") if f]
        total += count
        if not frames or not frames[0].startswith("<module>"):
            partial += count  # a stack cut short (read while it changed), or no Python frame
        own[frames[-1] if frames else "(no Python frame)"] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"\n{total} samples ({partial / max(total, 1):.0%} without the whole stack); own time by function:")
    for frame, n in own.most_common(limit):
        print(f"  {n / total:6.1%}  {frame}")
    print("\ninclusive, by function:")
    for frame, n in inclusive.most_common(limit):
        print(f"  {n / total:6.1%}  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    kinds = ["create", "query", "cashier_info", "healthz"]
    parser.add_argument("kind", nargs="?", default="create", choices=kinds)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/usdtpay-profile.txt"))
    parser.add_argument("--native", action="store_true", help="also sample C frames")
    parser.add_argument("--nonblocking", action="store_true", help="sample without pausing the server")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="usdtpay-prof-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database(args.db, folder) as url, Server(url, folder) as server:
            target, file, method = requests_for(args.kind, server, url, folder, args.seconds)
            warm = run_wrk("warm-up", target, file, method=method, seconds=2)
            start = warm.lines_sent if args.kind == "create" else 0
            command = [
                spy, "record", "-p", str(server.pid), "-d", str(int(args.seconds)), "-r", "250",
                "-f", "raw", "-o", str(args.out), "--gil",
                *(["--native"] if args.native else []),
                # Without pausing the server a third of the stacks came back cut short.
                *(["--nonblocking"] if args.nonblocking else []),
            ]  # fmt: skip
            spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = run_wrk(
                args.kind, target, file, method=method, seconds=args.seconds, server_pid=server.pid,
                start=start,
            )  # fmt: skip
            spying.wait()
            print(result.line())
    top(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
