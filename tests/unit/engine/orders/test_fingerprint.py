"""NewOrder.fingerprint: the same digest as json.dumps(sort_keys) of the
fields gave, so a retry of an order stored before still matches it."""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from typing import Any

from engine.orders.schemas import Currency, NewOrder

NAMES = ("face", "merchant_order_no", "currency", "amount_units", "chain", "channel", "subject",
         "notify_url", "return_url", "param", "extra")  # fmt: skip


def reference(new: NewOrder) -> str:
    fields = {name: getattr(new, name) for name in NAMES}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_known_order_keeps_its_digest() -> None:
    new = NewOrder(
        face="usdt", merchant_order_no="A-1", currency=Currency.CNY, amount_units=12345, chain="tron"
    )
    text = (
        '{"amount_units":12345,"chain":"tron","channel":null,"currency":"CNY","extra":{},"face":"usdt",'
        '"merchant_order_no":"A-1","notify_url":"","param":"","return_url":"","subject":""}'
    )
    assert new.fingerprint() == hashlib.sha256(text.encode()).hexdigest() == reference(new)


def test_matches_json_dumps_for_any_text_and_values() -> None:
    rnd = random.Random(15)
    alphabet = 'aZ09"\\/\n\t\x00\x1f\x7f é中😀\u2028\ud800'

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))

    extras: list[dict[str, Any]] = [
        {},
        {"plat": "OKX"},
        {"b": [1, 2.5, None, True], "a": {"z": Decimal("1.10")}},
    ]
    for _ in range(3000):
        new = NewOrder(
            face=text(), merchant_order_no=text(), currency=rnd.choice(list(Currency)),
            amount_units=rnd.randint(-(10**20), 10**20), chain=rnd.choice([None, text()]),
            channel=rnd.choice([None, text()]), subject=text(), notify_url=text(), return_url=text(),
            param=text(), extra=rnd.choice(extras) | {text(): text()},
        )  # fmt: skip
        assert new.fingerprint() == reference(new)


def test_values_of_other_types_are_written_as_json_dumps_writes_them() -> None:
    odd_subject: Any = Decimal("1.5")  # bool is an int to the type checker
    odd = NewOrder(
        face="usdt", merchant_order_no="A-1", currency=Currency.USDT, amount_units=True, subject=odd_subject
    )
    assert odd.fingerprint() == reference(odd)
