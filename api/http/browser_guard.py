"""Unsigned creates come from a merchant's back end, never from a browser
(issue 12, finding 2).

A create without a key is allowed for its network alone
(api.trusted_networks), so a page on another site must not be able to make
a trusted employee's browser send one. Browsers say where a request comes
from (`Origin` on cross-origin and on every POST from a page,
`Sec-Fetch-Site` on everything since 2020); a back end sends neither. The
body must also be the documented `application/json`: the content types a
page can post cross-site without a CORS preflight (form, multipart,
text/plain) are refused even from browsers too old to send those headers.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from engine.errors import Forbidden, UnsupportedMediaType

JSON_TYPES = ("application/json",)


def refuse_browser_create(request: Request[Any, Any, Any]) -> None:
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if "origin" in request.headers or site not in ("", "none"):
        raise Forbidden(
            "orders cannot be created from a web page without a merchant key: call this from "
            "your back end, or send X-Api-Key: <pid>:<key>"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType(
            "creating an order without a merchant key needs Content-Type: application/json"
        )
