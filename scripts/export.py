"""Accountants' wrapper: `python scripts/export.py --from 2026-03-01 --to 2026-04-01 [--kind settlements]`
is `usdtpay export ...`."""

import sys

from api.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
