"""Properties of the usdt face's MD5 signature (engine.signing)."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from engine.signing import (
    JsonNumber,
    compact_json,
    loads_exact,
    md5_sign,
    md5_verify,
    render_value,
    signing_string,
)

KEY = "merchant-secret-key-0123456789"

NAMES = st.text(
    alphabet=st.characters(min_codepoint=0x61, max_codepoint=0x7A), min_size=1, max_size=12
).filter(lambda n: n not in ("signature", "key"))
TEXT = st.text(min_size=1, max_size=30).filter(lambda v: v != "")
JSON_NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["100.00", "1.000001", "1e3", "0.10", "-0", "7.20"]),
)
SCALAR = st.one_of(TEXT, JSON_NUMBER_TEXT.map(JsonNumber), st.booleans(), st.integers(0, 10**6))
VALUE = st.one_of(
    SCALAR,
    st.dictionaries(NAMES, st.one_of(TEXT, st.integers(0, 99)), max_size=3),
    st.lists(st.one_of(TEXT, st.integers(0, 99)), max_size=3),
)
FIELDS = st.dictionaries(NAMES, VALUE, min_size=1, max_size=8)


@given(FIELDS, st.randoms(use_true_random=False))
def test_field_order_does_not_matter(fields: dict[str, Any], rnd: random.Random) -> None:
    items = list(fields.items())
    rnd.shuffle(items)
    assert md5_sign(dict(items), KEY) == md5_sign(fields, KEY)


@given(FIELDS, NAMES, st.sampled_from([None, ""]))
def test_null_and_empty_fields_are_skipped(fields: dict[str, Any], name: str, empty: object) -> None:
    assume(name not in fields)
    assert md5_sign({**fields, name: empty}, KEY) == md5_sign(fields, KEY)


@given(FIELDS, st.text(max_size=40))
def test_the_signature_field_itself_is_never_signed(fields: dict[str, Any], anything: str) -> None:
    assert md5_sign({**fields, "signature": anything}, KEY) == md5_sign(fields, KEY)


@given(FIELDS, st.data())
def test_changing_any_signed_field_changes_the_signature(fields: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(fields)))
    new_value = data.draw(TEXT)
    assume(new_value != render_value(fields[name]))
    assert md5_sign({**fields, name: new_value}, KEY) != md5_sign(fields, KEY)


@given(FIELDS, NAMES, TEXT)
def test_adding_a_non_empty_field_changes_the_signature(
    fields: dict[str, Any], name: str, value: str
) -> None:
    assume(name not in fields)
    assert md5_sign({**fields, name: value}, KEY) != md5_sign(fields, KEY)


@given(FIELDS, st.text(min_size=16, max_size=40))
def test_the_key_matters(fields: dict[str, Any], other_key: str) -> None:
    assume(other_key != KEY)
    assert md5_sign(fields, other_key) != md5_sign(fields, KEY)


@given(FIELDS)
def test_every_value_signs_as_render_value_renders_it(fields: dict[str, Any]) -> None:
    # signing_string passes plain str through without render_value: the same text.
    rendered = [f"{k}={render_value(v)}" for k, v in sorted(fields.items()) if v is not None and v != ""]
    assert signing_string(fields, KEY) == "&".join([*rendered, f"key={KEY}"])


@given(JSON_NUMBER_TEXT)
def test_json_number_text_is_signed_as_sent(number: str) -> None:
    document = loads_exact('{"amount": ' + number + ', "pid": "1"}')
    assert signing_string(document, KEY) == f"amount={number}&pid=1&key={KEY}"


def test_numbers_that_are_equal_but_written_differently_sign_differently() -> None:
    a = loads_exact('{"amount": 100.00}')
    b = loads_exact('{"amount": 100.0}')
    c = loads_exact('{"amount": 1e2}')
    assert len({md5_sign(a, KEY), md5_sign(b, KEY), md5_sign(c, KEY)}) == 3


@given(st.dictionaries(NAMES, st.one_of(TEXT, st.integers(-99, 99), st.booleans(), st.none()), max_size=4))
def test_objects_are_compact_json_in_the_order_sent(obj: dict[str, Any]) -> None:
    text = compact_json(obj)
    assert text == json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    assert signing_string({"param": obj}, KEY) == f"param={text}&key={KEY}"


@given(st.lists(JSON_NUMBER_TEXT, min_size=1, max_size=4))
def test_numbers_inside_objects_keep_their_text(numbers: list[str]) -> None:
    document = loads_exact('{"param": {"n": [' + ", ".join(numbers) + "]}}")
    assert signing_string(document, KEY) == 'param={"n":[' + ",".join(numbers) + "]}&key=" + KEY


def test_worked_example_from_the_readme() -> None:
    fields = loads_exact(
        '{"pid": 10001, "chain_type": 1, "order_no": "20240101000001", "amount": "100.00",'
        ' "type": 1, "currency": "CNY", "scanpay": 1, "notify_url": "https://example.com/notify",'
        ' "return_url": "", "param": {"user_id": "123"}, "signature": "x"}'
    )
    expected = (
        "amount=100.00&chain_type=1&currency=CNY&notify_url=https://example.com/notify"
        '&order_no=20240101000001&param={"user_id":"123"}&pid=10001&scanpay=1&type=1'
        "&key=" + KEY
    )
    assert signing_string(fields, KEY) == expected
    assert md5_sign(fields, KEY) == hashlib.md5(expected.encode()).hexdigest().upper()


@given(FIELDS)
def test_signature_is_32_upper_case_hex(fields: dict[str, Any]) -> None:
    signature = md5_sign(fields, KEY)
    assert len(signature) == 32 and all(c in "0123456789ABCDEF" for c in signature)


@given(FIELDS, st.lists(st.booleans(), min_size=32, max_size=32))
def test_verification_ignores_letter_case(fields: dict[str, Any], lower: list[bool]) -> None:
    signature = md5_sign(fields, KEY)
    mixed = "".join(c.lower() if flip else c for c, flip in zip(signature, lower, strict=True))
    assert md5_verify(fields, KEY, mixed)


@given(FIELDS, st.text(max_size=40))
@example(fields={"a": "1"}, candidate="")
def test_verification_is_exact_apart_from_case(fields: dict[str, Any], candidate: str) -> None:
    signature = md5_sign(fields, KEY)
    assert md5_verify(fields, KEY, candidate) == (candidate.isascii() and candidate.upper() == signature)


@given(FIELDS, st.data())
def test_any_edit_of_the_signature_is_refused(fields: dict[str, Any], data: st.DataObject) -> None:
    signature = md5_sign(fields, KEY)
    edit = data.draw(
        st.sampled_from(["replace", "drop", "append", "prepend_space", "append_space", "unicode"])
    )
    i = data.draw(st.integers(0, 31))
    if edit == "replace":
        c = data.draw(st.sampled_from("0123456789ABCDEF").filter(lambda x: x != signature[i]))
        forged = signature[:i] + c + signature[i + 1 :]
    elif edit == "drop":
        forged = signature[:i] + signature[i + 1 :]
    elif edit == "append":
        forged = signature + data.draw(st.sampled_from("0A"))
    elif edit == "prepend_space":
        forged = " " + signature
    elif edit == "append_space":
        forged = signature + "\n"
    else:
        # U+FB00 "ﬀ" upper-cases to "FF": only ASCII may match.
        forged = signature.replace("FF", "ﬀ", 1) if "FF" in signature else signature + "ﬀ"
    assert not md5_verify(fields, KEY, forged)


@pytest.mark.parametrize("signature", [None, 123, b"ABC", ["A"], "", {"s": 1}])
def test_non_text_signatures_are_refused(signature: object) -> None:
    assert not md5_verify({"a": "1"}, KEY, signature)


def test_nan_is_not_json() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        with pytest.raises(ValueError):
            loads_exact(text)


def test_loads_exact_never_makes_floats() -> None:
    document = loads_exact('{"a": 0.1, "b": [1, 2.50], "c": {"d": 3e-7}}')
    assert document == {"a": "0.1", "b": ["1", "2.50"], "c": {"d": "3e-7"}}
    assert all(isinstance(v, JsonNumber) for v in (document["a"], *document["b"], document["c"]["d"]))
    assert json.loads(compact_json(document)) == json.loads('{"a":0.1,"b":[1,2.50],"c":{"d":3e-7}}')


def test_unicode_that_upper_cases_to_hex_is_refused() -> None:
    # "ﬀ".upper() == "FF": a naive upper() comparison would accept this.
    fields = next(f for f in ({"n": str(i)} for i in range(10_000)) if "FF" in md5_sign(f, KEY))
    signature = md5_sign(fields, KEY)
    assert "ﬀ".upper() == "FF"
    assert not md5_verify(fields, KEY, signature.replace("FF", "ﬀ", 1))
    assert md5_verify(fields, KEY, signature.replace("FF", "ff", 1))
