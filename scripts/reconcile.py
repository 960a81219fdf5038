"""Auditors' wrapper: `python scripts/reconcile.py [--from ... --to ...] [--chain tron] [--out DIR]`
is `usdtpay reconcile ...` (exit 0 matched, 1 findings, 2 incomplete)."""

import sys
from pathlib import Path

# Run as a file (`.venv/bin/python scripts/x.py`), the repository root is not
# on sys.path unless the package is installed; put it there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cli import main

if __name__ == "__main__":
    sys.exit(main(["reconcile", *sys.argv[1:]]))
