"""Auditors' wrapper: `python scripts/reconcile.py [--from ... --to ...] [--chain tron] [--out DIR]`
is `usdtpay reconcile ...` (exit 0 matched, 1 findings, 2 incomplete)."""

import sys

from api.cli import main

if __name__ == "__main__":
    sys.exit(main(["reconcile", *sys.argv[1:]]))
