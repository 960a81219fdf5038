"""Platform ids: numeric, below 2^53 (safe as JSON numbers), not guessable."""

from __future__ import annotations

import secrets

_LOW = 10**15  # always 16 digits, so ids sort and print alike
_HIGH = 2**53 - 1


def new_platform_id() -> int:
    return _LOW + secrets.randbelow(_HIGH - _LOW)
