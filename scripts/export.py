"""Accountants' wrapper: `python scripts/export.py --from 2026-03-01 --to 2026-04-01 [--kind settlements]`
is `usdtpay export ...`."""

import sys
from pathlib import Path

# Run as a file (`.venv/bin/python scripts/x.py`), the repository root is not
# on sys.path unless the package is installed; put it there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
