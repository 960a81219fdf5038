"""The README's `python scripts/export.py` and `scripts/reconcile.py` lines
work as written, run from any directory with the project's Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT


@pytest.mark.parametrize(
    ("script", "usage"), [("export.py", "usdtpay export"), ("reconcile.py", "usdtpay reconcile")]
)
def test_wrapper_runs_from_elsewhere(tmp_path: Path, script: str, usage: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {usage}")
