"""A shop talking EPay V1 to the app under test, with tests/fakes/epay_client.py
(the shop's own signer): nothing here signs with usdtpay's code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.api.http.faces.support import Faces
from tests.factories import MERCHANT_KEY, MERCHANT_PID
from tests.fakes.epay_client import signed

NOTIFY = "https://example.com/notify"
RETURN = "https://shop.example/epay/return.php?from=usdtpay"


def params(**over: str | None) -> dict[str, str]:
    """A shop's create parameters (unsigned); None drops a field."""
    base: dict[str, str | None] = {
        "pid": MERCHANT_PID,
        "type": "alipay",
        "out_trade_no": "EP20240101001",
        "notify_url": NOTIFY,
        "return_url": RETURN,
        "name": "VIP会员 1个月",
        "money": "1.00",
        "sitename": "测试商店",
    }
    merged = base | over
    return {k: v for k, v in merged.items() if v is not None}


async def submit(
    f: Faces, fields: dict[str, str], *, method: str = "GET", key: str = MERCHANT_KEY, mode: str = "plain"
) -> httpx.Response:
    body = signed(fields, key, mode)
    if method == "GET":
        return await f.client.get("/submit.php", params=body, follow_redirects=False)
    return await f.client.post("/submit.php", data=body, follow_redirects=False)


async def mapi(
    f: Faces, fields: dict[str, str], *, key: str = MERCHANT_KEY, mode: str = "plain"
) -> dict[str, Any]:
    resp = await f.client.post("/mapi.php", data=signed(fields, key, mode))
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


def order_id_of(location: str) -> int:
    query = dict(parse_qsl(urlsplit(location).query))
    return int(query["orderId"])


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
