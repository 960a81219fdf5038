"""engine.epay against the shop's own EPay signer (tests/fakes/epay_client.py),
and the epay notification scheme: schedule, acknowledgement, GET delivery."""

from __future__ import annotations

import itertools
import random
import string
from datetime import timedelta

import httpx
import pytest

from engine import epay
from engine.clock import ManualClock
from engine.models import Merchant, Order
from engine.notify.schemes import SCHEMES, request_headers
from engine.notify.transport import pinned_request
from engine.notify.urls import Target
from tests.fakes import epay_client
from tests.unit.engine.notify.test_schemes import attempt_times

KEY = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"


def random_fields(rng: random.Random) -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "-_.|&=+% 中文"
    names = rng.sample(["pid", "type", "a", "a-b", "a_b", "A", "money", "name", "sign", "sign_type", "x1"], 7)
    return {n: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for n in names}


@pytest.mark.parametrize("mode", ["plain", "key"])
def test_sign_agrees_with_an_independent_signer(mode: str) -> None:
    rng = random.Random(14)
    for _ in range(300):
        fields = random_fields(rng)
        assert epay.sign(fields, KEY, mode) == epay_client.md5_sign(fields, KEY, mode)


def test_the_documented_rule_on_a_worked_example() -> None:
    fields = {
        "pid": "1001",
        "type": "alipay",
        "money": "1.00",
        "name": "a b",
        "param": "",
        "sign_type": "MD5",
    }
    assert epay.signing_string(fields) == "money=1.00&name=a b&pid=1001&type=alipay"
    import hashlib

    plain = hashlib.md5(b"money=1.00&name=a b&pid=1001&type=alipay" + KEY.encode()).hexdigest()
    keyed = hashlib.md5(b"money=1.00&name=a b&pid=1001&type=alipay&key=" + KEY.encode()).hexdigest()
    assert (epay.sign(fields, KEY), epay.sign(fields, KEY, "key")) == (plain, keyed)


def test_verify_names_the_mode_and_refuses_everything_else() -> None:
    fields = {"pid": "1001", "money": "1.00"}
    good = epay.sign(fields, KEY, "key")
    assert epay.verify(fields, KEY, good, ("plain", "key")) == "key"
    assert epay.verify(fields, KEY, good.upper(), ("key",)) == "key"
    assert epay.verify(fields, KEY, good, ("plain",)) is None
    for bad in ("", None, 5, good[:-1], good + "0", "ｆ" * 32, " " + good[1:]):
        assert epay.verify(fields, KEY, bad, ("plain", "key")) is None


def order_with(**saved: str) -> Order:
    return Order(
        id=1738155990123456,
        merchant_order_no="EP1",
        face="epay",
        subject="ignored",
        currency="CNY",
        fiat_fen=150,
        chain=None,
        channel="alipay",
        param="",
        extra={"epay": {"type": "alipay", "name": "商品 A&B", "money": "1.5", "param": "p=1", **saved}},
    )


def test_result_fields_carry_the_strings_the_merchant_signed() -> None:
    merchant = Merchant(pid="10001", key=KEY)
    fields = epay.result_fields(order_with(), merchant)
    assert list(fields) == [*epay.NOTIFY_FIELDS, "sign", "sign_type"]
    assert (fields["money"], fields["name"], fields["param"]) == ("1.5", "商品 A&B", "p=1")
    assert epay_client.verify(fields, KEY)
    keyed = epay.result_fields(order_with(sign_mode="key"), merchant)
    assert epay_client.verify(keyed, KEY, "key") and not epay_client.verify(keyed, KEY)
    # The query string decodes back to the same text (PHP's $_GET does the same).
    body = epay.notification_body(order_with(), merchant)
    assert dict(httpx.QueryParams(body)) == fields and " " not in body and "+" not in body


@pytest.mark.parametrize(
    ("sent", "chain", "channel", "wallet", "reported"),
    [
        ("alipay", None, "alipay", "", "alipay"),
        ("usdt.trc20", "tron", None, "", "usdt.trc20"),
        ("", "eth", None, "", "usdt.erc20"),
        ("qqpay", None, "wechat", "", "wxpay"),
        ("", None, "quickpay", "alipay", "alipay"),
        ("", None, None, "", ""),
    ],
)
def test_paid_type(sent: str, chain: str | None, channel: str | None, wallet: str, reported: str) -> None:
    order = order_with(type=sent)
    order.chain, order.channel = chain, channel
    assert epay.paid_type(order, wallet) == reported


def test_with_query_keeps_the_merchants_own_query_and_fragment() -> None:
    assert epay.with_query("https://s.example/n.php", "a=1") == "https://s.example/n.php?a=1"
    assert epay.with_query("https://s.example/n.php?x=2#top", "a=1") == "https://s.example/n.php?x=2&a=1#top"


def test_epay_schedule_spans_24_hours() -> None:
    offsets = attempt_times("epay", ManualClock())
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    minutes = [0.25, 1, 3, 10, 30, 60, 120, 240]
    assert gaps[: len(minutes)] == [timedelta(minutes=m) for m in minutes]
    assert all(g <= timedelta(hours=4) for g in gaps)
    assert offsets[-1] == timedelta(hours=24) and len(offsets) == 14


@pytest.mark.parametrize(
    ("status", "body", "done"),
    [
        (200, b"success", True),
        (200, b"SUCCESS\r\n", True),
        (200, b"\xef\xbb\xbfsuccess", True),
        (200, b"fail", False),
        (200, b"<html>not success</html>", False),
        (500, b"success", False),
        (302, b"success", False),
    ],
)
def test_epay_acknowledgement(status: int, body: bytes, done: bool) -> None:
    assert SCHEMES["epay"].acknowledged(status, body) is done


async def test_epay_notifications_are_a_get_with_the_body_as_query() -> None:
    scheme = SCHEMES["epay"]
    payload = b"pid=10001&name=%E5%95%86%20A&sign=abc&sign_type=MD5"
    headers = request_headers(scheme, KEY, payload, ManualClock().now(), "d-1", 1)
    assert "Content-Type" not in headers and headers["X-Delivery-Id"] == "d-1"
    target = Target("https://shop.example/notify.php?from=up", "https", "shop.example", 443, "93.184.216.34")
    async with httpx.AsyncClient() as client:
        request = pinned_request(client, target, payload, headers, method=scheme.method)
    assert request.method == "GET" and request.content == b""
    assert request.url.host == "93.184.216.34" and request.headers["host"] == "shop.example"
    assert request.url.query == b"from=up&" + payload
