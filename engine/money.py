"""Money as integers: USDT in atomic units (10^-6), CNY in fen (10^-2).

Wire amounts are parsed from their text, never through a float. Every
rounding in the engine goes through `round_up` so there is one rule to audit.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from engine.errors import BadInput

USDT_DECIMALS = 6
FEN_DECIMALS = 2
USDT_UNIT = 10**USDT_DECIMALS

# Plain decimal notation only: ASCII digits (re.ASCII: `\d` would otherwise
# admit "١٠٠" or "１００"), no sign, no exponent, no spaces, no "NaN".
_DECIMAL_TEXT = re.compile(r"(\d{1,15})(?:\.(\d{1,18}))?", re.ASCII)


def parse_amount(text: object, decimals: int, *, field: str = "amount") -> int:
    """Parse a positive wire amount into integer units of 10^-decimals.

    `text` is the value exactly as sent: a string, or the JSON text of a
    number. Negatives, zero, NaN, exponents and more than `decimals`
    fractional digits are refused with a message naming the field.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise BadInput(f'{field} must be a decimal number written as text, e.g. "100.00"')
    # No stripping: " 100.00" or "100.00\n" is not what a signed amount looks like.
    raw = str(text)
    match = _DECIMAL_TEXT.fullmatch(raw)
    if match is None:
        raise BadInput(f"{field} must be a positive plain decimal such as 100.00, got {raw[:40]!r}")
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac.rstrip("0")) > decimals:
        raise BadInput(f"{field} allows at most {decimals} decimal places, got {raw!r}")
    units = int(whole + (frac + "0" * decimals)[:decimals])
    if units <= 0:
        raise BadInput(f"{field} must be greater than zero")
    return units


def parse_rate(text: object) -> Decimal:
    """Parse a CNY-per-USDT rate (a positive decimal, up to 8 places)."""
    raw = str(text).strip()  # operator-typed configuration
    match = _DECIMAL_TEXT.fullmatch(raw)
    if match is None or len((match.group(2) or "").rstrip("0")) > 8:
        raise BadInput(f"rate must be a positive plain decimal, got {raw[:40]!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid text
        raise BadInput(f"rate is not a number: {raw!r}") from exc
    if value <= 0:
        raise BadInput("rate must be greater than zero")
    return value


def round_up(value: Decimal, places: int) -> Decimal:
    """The one rounding rule: towards +infinity at `places` decimals.

    Rounding up means the payer never pays less than the price.
    """
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


def units_to_decimal(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def format_units(units: int, decimals: int) -> str:
    """Render integer units as fixed-point text: 1000001 → "1.000001"."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{decimals}d}"


def format_usdt(units: int) -> str:
    return format_units(units, USDT_DECIMALS)


def format_fen(fen: int) -> str:
    return format_units(fen, FEN_DECIMALS)


def decimal_to_units(value: Decimal, decimals: int) -> int:
    """Exact conversion; callers round with `round_up` first."""
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {decimals} decimals; round it first")
    return int(scaled)


def fen_to_usdt_base(fen: int, rate: Decimal, base_decimals: int) -> int:
    """CNY fen → USDT atomic units at `rate` CNY per USDT, rounded up to
    `base_decimals` (the unique fraction is added on top of this base)."""
    usdt = Decimal(fen).scaleb(-FEN_DECIMALS) / rate
    return decimal_to_units(round_up(usdt, base_decimals), USDT_DECIMALS)


def usdt_base(units: int, base_decimals: int) -> int:
    """Round a USDT price up to the base precision."""
    return decimal_to_units(round_up(units_to_decimal(units, USDT_DECIMALS), base_decimals), USDT_DECIMALS)
