"""engine.signing.ambiguous_field: over a closed set of names, field sets
whose values pass the check never share a signing string (issue 12,
finding 9), while without the check they do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.signing import ambiguous_field, signing_string

NAMES = ("amount", "notify_url", "order_no", "param", "pid", "return_url")
# Values built from the characters that matter: separators and name pieces.
VALUE = st.text(alphabet="&=_apmoutnriyedkl", min_size=1, max_size=12) | st.sampled_from(
    [f"x&{name}=y" for name in NAMES]
)
FIELDS = st.dictionaries(st.sampled_from(NAMES), VALUE, min_size=1, max_size=len(NAMES))


@settings(max_examples=400, deadline=None)
@given(FIELDS, FIELDS)
def test_accepted_field_sets_never_sign_alike(a: dict[str, str], b: dict[str, str]) -> None:
    if ambiguous_field(a, NAMES) is None and ambiguous_field(b, NAMES) is None and a != b:
        assert signing_string(a, "K") != signing_string(b, "K")


def test_the_check_refuses_exactly_the_colliding_form() -> None:
    merged = {"param": "note&return_url=https://evil.example", "pid": "1"}
    split = {"param": "note", "pid": "1", "return_url": "https://evil.example"}
    swapped = {"order_no": "1&param=x", "pid": "1"}
    assert signing_string(swapped, "K") == signing_string({"order_no": "1", "param": "x", "pid": "1"}, "K")
    assert ambiguous_field(swapped, NAMES) == "order_no"
    assert ambiguous_field(merged, NAMES) == "param" and ambiguous_field(split, NAMES) is None
    assert ambiguous_field({"param": "a&key=b"}, NAMES) == "param"
    assert ambiguous_field({"notify_url": "https://shop.example/n?a=1&b=2"}, NAMES) is None
    assert ambiguous_field({"param": {"memo": "x&amount=1"}}, NAMES) == "param"
