"""An order built from a row reads like a loaded one, even in a process that
has run no ORM query yet (a second `usdtpay serve` whose first request is a
cashier pick: its mappers were not configured, and reading `order.extra`
raised AttributeError, a 500)."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT

FRESH_PROCESS = """
from engine.orders.queries import order_from_row
order = order_from_row({"id": 7, "extra": {"offer": ["usdt_trc20"]}, "status": "pending"})
print(order.id, order.extra["offer"][0], order.status)
"""


def test_an_order_from_a_row_reads_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["7", "usdt_trc20", "pending"]
