"""Profile the server under wrk with py-spy (not part of `make bench`).

Starts `usdtpay serve` on a fresh database, drives one endpoint with wrk
(16 connections) and samples the server with `py-spy record` meanwhile;
prints the functions with the most samples (own and inclusive, per
function: py-spy names a frame by its line, so one function is many
frames) and keeps the collapsed stacks (for a flame graph) in the given
file. Shares are of the samples with a Python stack; with --native, C
frames (the garbage collector, SQLite, libc) count too, and py-spy has to
pause the server for each sample (it cannot unwind C stacks otherwise).
Without it, py-spy reads the stacks while the server runs on, so a sample
can mix two moments: a query profile once gave 6 % "own" time to
Litestar's resolve_exception_handlers, which costs ~1 µs of a ~250 µs
request. Trust inclusive shares of whole functions, not single lines.

    .venv/bin/pip install py-spy   # or: uv pip install --python .venv/bin/python py-spy
    python -m scripts.bench._profile [create|query|cashier_info|check_order|healthz]
        [--db sqlite] [--seconds 10] [--out FILE] [--native] [--by-line]
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
    if kind in ("query", "cashier_info", "check_order"):
        _data.populate(server.base, url, folder, 2000)
        rows = _data.order_rows(url, 2000)
        if kind == "query":
            paths = _data.query_paths([n for _, n in rows])
        else:
            paths = _data.cashier_paths([i for i, _ in rows], kind)
        return server.base, write_lines(paths, folder, "q.txt"), "GET"
    return server.base, write_lines(["/healthz"], folder, "h.txt"), "GET"


# "name (path:line)" -> "name (path)"; a native frame "0x7f.. (libc.so.6)" has no line.
_LINE = re.compile(r":\d+\)$")


def top(collapsed: Path, limit: int = 40, *, by_line: bool = False) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = empty = partial = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f if by_line else _LINE.sub(")", f) for f in stack.split(";") if f]
        if not frames:  # a sample with no frame (py-spy writes " 13")
            empty += count
            continue
        total += count
        if not frames[0].startswith("<module>"):
            partial += count  # a stack cut short (read while it changed)
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        raise SystemExit(f"{collapsed}: no samples with a stack")
    print(f"\n{total} samples with a stack ({empty} without, {partial / total:.0%} cut short); own time:")
    for frame, n in own.most_common(limit):
        print(f"  {n / total:6.1%}  {frame}")
    print("\ninclusive, by function:")
    for frame, n in inclusive.most_common(limit):
        print(f"  {n / total:6.1%}  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    kinds = ["create", "query", "cashier_info", "check_order", "healthz"]
    parser.add_argument("kind", nargs="?", default="create", choices=kinds)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/usdtpay-profile.txt"))
    parser.add_argument("--native", action="store_true", help="also sample C frames")
    parser.add_argument("--nonblocking", action="store_true", help="sample without pausing the server")
    parser.add_argument("--by-line", action="store_true", help="one entry per source line, not per function")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="usdtpay-prof-") as tmp:
        folder = Path(tmp)
        with _data.fresh_database(args.db, folder) as url, Server(url, folder) as server:
            target, file, method = requests_for(args.kind, server, url, folder, args.seconds)
            warm = run_wrk("warm-up", target, file, method=method, seconds=2)
            start = warm.lines_sent if args.kind == "create" else 0
            command = [
                spy, "record", "-p", str(server.pid), "-d", str(int(args.seconds)), "-f", "raw",
                "-o", str(args.out), "--gil", "-r", "100" if args.native else "250",
                *(["--native"] if args.native else []),
                # Without pausing the server a third of the stacks came back cut short
                # (py-spy refuses --native with --nonblocking: it stops the process to unwind C).
                *(["--nonblocking"] if args.nonblocking and not args.native else []),
            ]  # fmt: skip
            args.out.unlink(missing_ok=True)
            spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            result = run_wrk(
                args.kind, target, file, method=method, seconds=args.seconds, server_pid=server.pid,
                start=start,
            )  # fmt: skip
            _, spy_errors = spying.communicate()
            print(result.line())
    if spying.returncode != 0 or not args.out.exists():
        raise SystemExit(
            f"py-spy failed ({spying.returncode}): {spy_errors.decode(errors='replace')[-2000:]}"
        )
    top(args.out, by_line=args.by_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
