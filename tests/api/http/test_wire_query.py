"""A GET's fields (api.http.wire.query_pairs) are read exactly as Litestar's
`request.query_params` reads them, escapes, `+`, blanks and odd bytes
included; in the order sent (Litestar's follow a set of the names)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request

from api.http.wire import query_pairs

QUERIES = [
    b"",
    b"pid=10001&order_no=A-1&signature=ABC",
    b"order_no=a%26b%3Dc&pid=1",
    b"name=a+b&plus=%2B&space=%20",
    b"blank=&flag&=value&&&tail=",
    b"&lead=1",
    b"v=1=2=3",
    b"x=%E4%B8%AD&y=%zz&z=%",
    "raw=\u00e9\u00fc".encode("latin-1"),
    "utf8=\u4e2d".encode(),
    b"pid=1&pid=2",
    b"a;b=c",
]


def litestars(query_string: bytes) -> list[tuple[str, Any]]:
    scope: Any = {"type": "http", "method": "GET", "query_string": query_string, "headers": []}
    return list(Request(scope).query_params.multi_items())


@pytest.mark.parametrize("query_string", QUERIES)
def test_pairs_are_litestars(query_string: bytes) -> None:
    assert sorted(query_pairs(query_string)) == sorted(litestars(query_string))


def test_pairs_keep_the_order_sent() -> None:
    assert [name for name, _ in query_pairs(b"z=1&a=2&m=%20&a=3")] == ["z", "a", "m", "a"]
