"""The README's merchant snippet signs exactly as usdtpay verifies, so a
merchant who copies it gets 200s, not "signature does not match"."""

from __future__ import annotations

from typing import Any

import pytest

from engine.signing import md5_sign
from tests.paths import ROOT


def _snippet() -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split("Or from Python (standard library only; signing included):", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize(
    "fields",
    [
        {"pid": "10001", "chain_type": 1, "order_no": "A1", "amount": "100.00", "currency": "CNY"},
        {"pid": "10001", "order_no": "A1", "param": {"user_id": "123", "tags": ["x", 1]}, "plat": ""},
        {"pid": "10001", "order_no": "A1", "hash": "0x" + "ab" * 32, "signature": "ignored"},
    ],
)
def test_readme_sign_matches_the_server(fields: dict[str, Any]) -> None:
    namespace: dict[str, Any] = {}
    code = _snippet().split("\norder = call(", 1)[0]  # definitions only: no request is sent
    exec(compile(code, "README snippet", "exec"), namespace)
    assert namespace["sign"](fields) == md5_sign(fields, namespace["KEY"])
