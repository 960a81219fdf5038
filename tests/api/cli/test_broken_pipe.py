"""`usdtpay status | head`: a reader that goes away ends the command quietly,
with no BrokenPipeError traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.dbharness import Db
from tests.paths import ROOT

CLOSED_STDOUT = (
    "import os, sys\n"
    "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"  # stdout: a pipe nobody reads any more
    "from api.cli import main\n"
    "sys.exit(main(['status']))\n"
)


def test_status_into_a_closed_pipe_is_quiet(db: Db, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USDTPAY_")}
    env.update(USDTPAY_DATABASE_URL=db.url, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", CLOSED_STDOUT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
