"""Properties of engine.money (DESIGN invariant 1: money is never a float)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from engine import money
from engine.errors import BadInput
from engine.signing import JsonNumber, loads_exact

DECIMALS = st.sampled_from([money.FEN_DECIMALS, money.USDT_DECIMALS])


@st.composite
def amount_and_decimals(draw: st.DrawFn) -> tuple[int, int]:
    decimals = draw(DECIMALS)
    units = draw(st.integers(min_value=1, max_value=10 ** (15 + decimals) - 1))
    return units, decimals


@given(amount_and_decimals())
def test_format_then_parse_is_identity(case: tuple[int, int]) -> None:
    units, decimals = case
    text = money.format_units(units, decimals)
    assert money.parse_amount(text, decimals) == units
    assert money.parse_amount(JsonNumber(text), decimals) == units  # the JSON-number form


@given(amount_and_decimals(), st.integers(min_value=0, max_value=12))
def test_trailing_zeros_do_not_change_the_value(case: tuple[int, int], extra: int) -> None:
    units, decimals = case
    text = money.format_units(units, decimals) + "0" * extra
    assume(len(text.split(".")[1]) <= 18)
    assert money.parse_amount(text, decimals) == units


@given(amount_and_decimals())
def test_json_number_text_parses_like_the_string(case: tuple[int, int]) -> None:
    units, decimals = case
    text = money.format_units(units, decimals)
    document = loads_exact('{"amount": ' + text + "}")
    assert money.parse_amount(document["amount"], decimals) == units


@given(amount_and_decimals())
def test_negatives_are_refused(case: tuple[int, int]) -> None:
    units, decimals = case
    with pytest.raises(BadInput):
        money.parse_amount("-" + money.format_units(units, decimals), decimals)
    with pytest.raises(BadInput):
        money.parse_amount("+" + money.format_units(units, decimals), decimals)


@given(DECIMALS, st.integers(min_value=1, max_value=15), st.integers(min_value=0, max_value=18))
def test_zero_in_any_spelling_is_refused(decimals: int, whole: int, frac: int) -> None:
    text = "0" * whole + ("." + "0" * frac if frac else "")
    with pytest.raises(BadInput, match="greater than zero"):
        money.parse_amount(text, decimals)


@pytest.mark.parametrize(
    "text", ["NaN", "nan", "-NaN", "sNaN", "Infinity", "inf", "-Infinity", "∞", "None", "null", "true"]
)
def test_nan_and_infinity_are_refused(text: str) -> None:
    with pytest.raises(BadInput):
        money.parse_amount(text, 2)


@given(amount_and_decimals(), st.integers(min_value=-5, max_value=5), st.sampled_from(["e", "E"]))
def test_exponents_are_refused(case: tuple[int, int], power: int, letter: str) -> None:
    units, decimals = case
    with pytest.raises(BadInput):
        money.parse_amount(f"{money.format_units(units, decimals)}{letter}{power}", decimals)


@given(amount_and_decimals(), st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=5))
def test_too_many_decimals_are_refused(case: tuple[int, int], digit: int, zeros: int) -> None:
    units, decimals = case
    text = money.format_units(units, decimals) + "0" * zeros + str(digit)
    assume(len(text.split(".")[1]) <= 18)
    with pytest.raises(BadInput, match=f"at most {decimals} decimal places"):
        money.parse_amount(text, decimals)


WHITESPACE = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2009", "\u3000", "\ufeff", "\x0b"])


@given(amount_and_decimals(), WHITESPACE, st.sampled_from(["before", "after", "inside"]))
@example(case=(10000, 2), space="\n", where="after")
def test_whitespace_tricks_are_refused(case: tuple[int, int], space: str, where: str) -> None:
    units, decimals = case
    text = money.format_units(units, decimals)
    if where == "before":
        text = space + text
    elif where == "after":
        text = text + space
    else:
        text = text[:1] + space + text[1:]
    with pytest.raises(BadInput):
        money.parse_amount(text, decimals)


@pytest.mark.parametrize(
    "text",
    ["１００.００", "١٠٠", "१००.००", "1_000", "1,000.00", "0x10", ".5", "5.", "1..0", "", "1 000", "٣"],
)
def test_only_ascii_plain_decimals(text: str) -> None:
    with pytest.raises(BadInput):
        money.parse_amount(text, 2)


@pytest.mark.parametrize("value", [1.5, 100.0, True, None, Decimal("1.5"), ["1"], {"a": 1}, b"100"])
def test_non_text_values_are_refused(value: object) -> None:
    with pytest.raises(BadInput, match="written as text"):
        money.parse_amount(value, 2)


@given(
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**12), allow_nan=False, places=12),
    st.integers(min_value=0, max_value=6),
)
def test_round_up_is_never_below_and_at_most_one_step_above(value: Decimal, places: int) -> None:
    rounded = money.round_up(value, places)
    step = Decimal(1).scaleb(-places)
    assert rounded >= value
    assert rounded - value < step
    assert rounded % step == 0
    assert money.round_up(rounded, places) == rounded  # already on the grid: unchanged


@given(
    st.integers(min_value=1, max_value=10**12),
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal(100), allow_nan=False, places=6),
    st.integers(min_value=0, max_value=5),
)
@example(fen=10000, rate=Decimal("7.20"), base_decimals=2)
def test_fen_to_usdt_base_covers_the_price_with_the_smallest_step(
    fen: int, rate: Decimal, base_decimals: int
) -> None:
    units = money.fen_to_usdt_base(fen, rate, base_decimals)
    step = 10 ** (money.USDT_DECIMALS - base_decimals)
    # Exact rational arithmetic: what the payer sends is worth at least the price...
    price_usdt = Fraction(fen, 100) / Fraction(rate)
    assert Fraction(units, money.USDT_UNIT) >= price_usdt
    # ...and one step less would not be.
    assert Fraction(units - step, money.USDT_UNIT) < price_usdt
    assert units % step == 0


def test_fen_to_usdt_base_seed_example() -> None:
    assert money.fen_to_usdt_base(10000, Decimal("7.20"), 2) == 13_890_000


@given(st.integers(min_value=1, max_value=10**15), st.integers(min_value=0, max_value=6))
def test_usdt_base_rounds_up_to_the_base_grid(units: int, base_decimals: int) -> None:
    step = 10 ** (money.USDT_DECIMALS - base_decimals)
    base = money.usdt_base(units, base_decimals)
    assert units <= base < units + step and base % step == 0


@given(st.integers(min_value=-(10**18), max_value=10**18), DECIMALS)
def test_format_units_is_exact(units: int, decimals: int) -> None:
    text = money.format_units(units, decimals)
    assert Decimal(text) == Decimal(units).scaleb(-decimals)
    assert len(text.split(".")[1]) == decimals


@pytest.mark.parametrize("text", ["7.20", "7", "0.12345678", JsonNumber("7.2")])
def test_parse_rate_accepts_plain_positive_decimals(text: str) -> None:
    assert money.parse_rate(text) == Decimal(str(text))


@pytest.mark.parametrize("text", ["0", "-7.2", "7.123456789", "7e0", "NaN", "٧.٢", "abc"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(BadInput):
        money.parse_rate(text)
