"""What the HTTP benchmarks share: the server as a subprocess, wrk runs with
pre-signed requests, CPU and memory readings, and figure lines.

Why wrk: a Python client spends more CPU per request than the server's
cheapest endpoint, so a ratio against /healthz measured by a Python client
measures the client. wrk (C) sends prepared bytes; each run also reads the
CPU time wrk and the server used, so a line shows which side was busy: a
server near 100 % of a core with wrk well below means the server is the
limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from scripts.ports import free_port, owns_listener

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LUA = HERE / "wrk_requests.lua"
TICKS = os.sysconf("SC_CLK_TCK")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Each figure is also appended here as a JSON line when set (scripts.bench.all).
RESULTS_ENV = "USDTPAY_BENCH_RESULTS"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def require_wrk() -> str:
    path = wrk_path()
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or `make bench`, which installs it)")
    return path


def usdtpay_command() -> list[str]:
    """The installed console script, else the same entry point by import."""
    script = Path(sys.executable).parent / "usdtpay"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USDTPAY_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "USDTPAY_DATABASE_URL": database_url,
            "USDTPAY_RATE_FIXED": "7.20",
            "USDTPAY_LOG_LEVEL": "WARNING",
            # The per-merchant / per-IP limit would otherwise answer 429 to a benchmark.
            "USDTPAY_API__RATE_LIMIT_PER_MINUTE": "1000000000",
            # A run that sends bad signatures on purpose must not lock the source out.
            "USDTPAY_API__FAILED_SIGNATURES_PER_MINUTE": "1000000000",
            "USDTPAY_NOTIFY__ALLOW_HOSTS": '["localhost", "127.0.0.0/8", "::1/128"]',
        }
    )
    env.update(extra)
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Server:
    """`usdtpay serve` on a free port, one process, until stop()."""

    def __init__(self, database_url: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = (workdir / f"serve-{self.port}.log").open("w+b")
        command = [*usdtpay_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            command, cwd=workdir, env=bench_env(database_url, **env), stdout=self._log, stderr=self._log
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, limit_s: float = 90) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"usdtpay serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    # Another process on the port would answer too (scripts.ports).
                    if answer.status == 200 and owns_listener(self.pid, self.port):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"usdtpay serve did not answer /healthz within {limit_s} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Server:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class WrkResult:
    name: str
    requests: int
    seconds: float
    errors: int  # connect/read/write/timeout + HTTP status >= 400
    p50_ms: float
    p99_ms: float
    max_ms: float
    wraps: int
    lines_sent: int
    client_cpu: float  # wrk's CPU seconds ÷ wall seconds (1.0 = one core)
    server_cpu: float  # the server process's, likewise
    detail: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of server CPU: what the server would answer
        with a whole core to itself (other load on the machine steals CPU
        from the server, and then req/s measures the machine)."""
        return self.per_second / self.server_cpu if self.server_cpu else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.per_second:9.1f} req/s  p50 {self.p50_ms:6.2f} ms  "
            f"p99 {self.p99_ms:6.2f} ms  errors {self.errors}  "
            f"cpu: server {self.server_cpu:4.0%} wrk {self.client_cpu:4.0%}  "
            f"({self.per_cpu_second:,.0f} per server cpu-s)"
        )


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"machine load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def write_lines(lines: list[str], folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def run_wrk(
    name: str,
    url: str,
    requests_file: Path,
    *,
    method: str = "GET",
    seconds: float = 5.0,
    connections: int = 16,
    threads: int = 1,
    server_pid: int | None = None,
    start: int = 0,
    then_path: str = "",
) -> WrkResult:
    """One wrk run (`connections` kept-alive connections) sending the file's
    requests in order; CPU of wrk and of `server_pid` measured over it."""
    command = [
        require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(LUA), url, "--", str(requests_file), method, str(threads), str(start), then_path,
    ]  # fmt: skip
    server_before = cpu_seconds(server_pid) if server_pid else 0.0
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        out.seek(0)
        text = out.read().decode(errors="replace")
    server_used = (cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    lines = [line for line in text.splitlines() if line.startswith("WRKJSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{text[-2000:]}")
    data = json.loads(lines[-1].removeprefix("WRKJSON "))
    detail = {k: data[k] for k in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(detail.values()),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        wraps=data["wraps"],
        lines_sent=data["lines_sent"],
        client_cpu=(usage.ru_utime + usage.ru_stime) / wall,
        server_cpu=server_used / wall,
        detail=detail,
    )


def merge(parts: list[WrkResult]) -> WrkResult:
    """Several rounds of one measurement as one (latencies: the worst round's)."""
    seconds = sum(p.seconds for p in parts)
    return WrkResult(
        name=parts[0].name,
        requests=sum(p.requests for p in parts),
        seconds=seconds,
        errors=sum(p.errors for p in parts),
        p50_ms=max(p.p50_ms for p in parts),
        p99_ms=max(p.p99_ms for p in parts),
        max_ms=max(p.max_ms for p in parts),
        wraps=sum(p.wraps for p in parts),
        lines_sent=sum(p.lines_sent for p in parts),
        client_cpu=sum(p.client_cpu * p.seconds for p in parts) / seconds,
        server_cpu=sum(p.server_cpu * p.seconds for p in parts) / seconds,
        detail={k: sum(p.detail.get(k, 0) for p in parts) for k in parts[0].detail},
    )


# -- figures ---------------------------------------------------------------
@dataclass
class Figure:
    """One reported number, beside its baseline and the issue's goal."""

    name: str
    value: float
    unit: str
    goal: str = ""  # e.g. ">= 0.25"
    baseline: str = ""  # what the value is compared with, and that figure
    note: str = ""

    def met(self) -> bool | None:
        if not self.goal:
            return None
        op, _, limit = self.goal.partition(" ")
        bound = float(limit)
        return {">=": self.value >= bound, "<=": self.value <= bound, "<": self.value < bound}[op]

    def line(self) -> str:
        verdict = {None: "", True: "  [goal met]", False: "  [goal NOT met]"}[self.met()]
        goal = f"  goal {self.goal}" if self.goal else ""
        base = f"  (baseline: {self.baseline})" if self.baseline else ""
        return f"  {self.name:<44} {self.value:10.3f} {self.unit:<8}{goal}{verdict}{base}"


def report(figure: Figure) -> Figure:
    print(figure.line(), flush=True)
    target = os.environ.get(RESULTS_ENV)
    if target:
        record = {**figure.__dict__, "met": figure.met()}
        with open(target, "a") as out:
            out.write(json.dumps(record) + "\n")
    return figure
