"""The benchmark harness itself, on a tiny run: wrk drives a real
`usdtpay serve`, each pre-signed create is sent once and stored once,
wraps and error answers are counted, figures compare against their goals.
No timing is asserted: only what was sent, answered and stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.bench import _data
from scripts.bench._harness import IN_CI, Figure, Server, WrkResult, run_wrk, write_lines, wrk_path
from scripts.bench.create_orders import print_rounds


def require_wrk() -> None:
    if wrk_path() is not None:
        return
    if IN_CI:
        pytest.fail("wrk is not installed (CI=true: .ci/run installs it)")
    pytest.skip("wrk is not installed; apt-get install -y wrk")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    require_wrk()
    folder = tmp_path_factory.mktemp("bench")
    with _data.fresh_database("sqlite", folder, wallets=2) as url, Server(url, folder) as server:
        yield server, url, folder


def test_each_create_body_is_sent_once_and_stored_once(served: tuple[Server, str, Path]) -> None:
    server, url, folder = served
    before = _data.order_count(url)
    bodies = write_lines(_data.create_bodies("smoke", 60), folder, "smoke.txt")
    result = run_wrk(
        "create", server.base + "/api/pay/create", bodies, method="POST", seconds=2, connections=4,
        then_path="/healthz", server_pid=server.pid,
    )  # fmt: skip
    assert result.errors == 0, result.detail
    assert result.wraps == 0
    assert result.lines_sent == 60
    assert _data.order_count(url) - before == 60
    assert result.requests >= 60  # then /healthz until the clock ran out


def test_reused_lines_are_counted_as_wraps(served: tuple[Server, str, Path]) -> None:
    server, _, folder = served
    paths = write_lines(["/healthz", "/healthz"], folder, "two.txt")
    result = run_wrk("healthz", server.base, paths, seconds=1, connections=2)
    assert result.errors == 0
    assert result.requests > 2
    assert result.wraps > 0


def test_refused_requests_are_errors(served: tuple[Server, str, Path]) -> None:
    server, url, folder = served
    before = _data.order_count(url)
    forged = []
    for line in _data.create_bodies("forged", 5):
        fields = json.loads(line)
        fields["signature"] = "0" * 32
        forged.append(json.dumps(fields))
    path = write_lines(forged, folder, "forged.txt")
    result = run_wrk("forged", server.base + "/api/pay/create", path, method="POST", seconds=1, connections=1)
    assert result.requests > 0
    assert result.detail["status"] == result.requests  # every answer a 403
    assert _data.order_count(url) == before


def test_query_paths_are_signed_for_the_server(served: tuple[Server, str, Path]) -> None:
    server, url, folder = served
    _data.populate(server.base, url, folder, 10, run_id="q", chunk_s=1)
    rows = _data.order_rows(url, 10)
    path = write_lines(_data.query_paths([n for _, n in rows]), folder, "q.txt")
    result = run_wrk("query", server.base, path, seconds=1, connections=2)
    assert result.requests > 0
    assert result.errors == 0, result.detail


def test_figures_compare_with_their_goal() -> None:
    assert Figure("ratio", 0.3, "ratio", goal=">= 0.25").met() is True
    assert Figure("ratio", 0.2, "ratio", goal=">= 0.25").met() is False
    assert Figure("p99", 25.0, "ms", goal="<= 25").met() is True
    assert Figure("start", 0.5, "s", goal="< 0.5").met() is False
    assert Figure("plain", 1.0, "req/s").met() is None


def test_each_round_pair_gets_its_own_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    def run(requests: int, server_cpu: float) -> WrkResult:
        return WrkResult("r", requests, 4.0, 0, 1.0, 2.0, 3.0, 0, requests, 0.1, server_cpu)

    healths = [run(40_000, 1.0), run(32_000, 1.0)]
    creates = [run(10_000, 0.8), run(9_600, 0.96)]
    print_rounds(healths, creates)
    out = capsys.readouterr().out
    assert "by round: 0.250, 0.300 (per server cpu-s: 0.312, 0.312)" in out
