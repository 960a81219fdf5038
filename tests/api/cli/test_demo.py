"""`usdtpay demo --pay` end to end: a dev chain, an order, its payment, the
order paid and the merchant's notification, in one command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.watchers.evm.devchain import anvil_binary
from tests.paths import ROOT

pytestmark = pytest.mark.anvil


def test_demo_pays_an_order_and_shows_the_notification(tmp_path: Path) -> None:
    anvil_binary()  # skips (fails under CI=true) when the dev chain is not installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("USDTPAY_") or k == "USDTPAY_ANVIL"}
    # A shell that enables a real chain must not reach the demo.
    env["USDTPAY_TRON__ENABLED"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--pay"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Cashier page for the payer: http://127.0.0.1:" in out
    query = out.split("The merchant queries the order (GET /api/pay/query):\n", 1)[1]
    assert json.loads(query.split("\n\n", 1)[0])["data"]["status"] == "paid"
    notice = out.split("(answered `success`):\n", 1)[1].split("\n\nDone:", 1)[0]
    body = json.loads(notice)
    assert body["status"] == "paid" and body["cny_amount"] == "100.00" and body["signature"]
    assert not list(tmp_path.iterdir()), "the demo leaves nothing behind"


def test_demo_without_input_goes_on_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import demo

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # closed: what `make demo < /dev/null` reads
    demo.wait_for_enter("Press Enter ... ")
    assert "paying now" in capsys.readouterr().out
