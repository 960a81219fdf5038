"""Errors the framework raises before a face's own handler can run (unknown
path, wrong method, a body over Litestar's size limit), answered in the
envelope of the face the path belongs to.

Each face keeps its `error_response`; this module turns Litestar's
exceptions into engine errors with a message that says what to do, and
hands them to the face whose paths start like the request's. Registered
for HTTPException on the app, it also catches the framework's exceptions
inside a face's routes (Litestar looks handlers up by the exception's
class before falling back to a face router's `Exception` handler). Paths
that belong to no face get the usdt envelope `{"code", "msg", "data"}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from api.http.faces import cashier, checkout, dryad, epay, quickpay, usdt
from engine.errors import BadInput, NotFound, PayloadTooLarge, UsdtPayError

log = logging.getLogger("usdtpay.api")

Handler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]

# (path prefix, the face's handler), longest prefixes first where they overlap.
FACE_HANDLERS: list[tuple[str, Handler]] = [
    ("/api/pay/orders", dryad.error_response),
    ("/api/pay/wechat", dryad.error_response),
    ("/api/pay/alipay", dryad.error_response),
    ("/api/health", dryad.error_response),
    ("/api/pay/", usdt.error_response),
    ("/api/order/", checkout.error_response),
    ("/api/precreate", cashier.error_response),
    ("/api/cashier_info", cashier.error_response),
    ("/api/get_pay_params", cashier.error_response),
    ("/api/check_order", cashier.error_response),
    ("/QuickPay/", quickpay.error_response),
    # EPay: the shop-facing page and the JSON calls have their own shapes.
    ("/submit.php", epay.page_error),
    ("/mapi.php", epay.json_error),
    ("/api.php", epay.json_error),
]


class WrongMethod(UsdtPayError):
    code = "method_not_allowed"
    status = 405


def face_handler(path: str) -> Handler:
    """The handler of the face `path` belongs to; the usdt envelope for the rest."""
    return next(
        (handler for prefix, handler in FACE_HANDLERS if path.startswith(prefix)), usdt.error_response
    )


def _allowed(exc: HTTPException) -> str:
    allow = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
    methods = {part.strip() for part in allow.split(",")} - {"", "OPTIONS", "HEAD"}
    return " or ".join(sorted(methods))


def domain_error(request: Request[Any, Any, Any], exc: Exception) -> Exception:
    """The engine error a framework exception stands for, with a message
    naming the real problem; anything else is returned as it is."""
    method, path = request.method, request.url.path
    if isinstance(exc, NotFoundException):
        return NotFound(f"no endpoint {method} {path[:120]}; the API reference is at /schema")
    if isinstance(exc, MethodNotAllowedException):
        allowed = _allowed(exc)
        hint = f"; use {allowed}" if allowed else ""
        return WrongMethod(f"{method} is not allowed on {path[:120]}{hint}")
    if isinstance(exc, HTTPException) and exc.status_code == 413:
        return PayloadTooLarge("the request body is too large")
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        details = "; ".join(
            f"{item.get('key', '')}: {item.get('message', '')}" for item in extra if isinstance(item, dict)
        )
        return BadInput(f"{exc.detail}{': ' + details if details else ''}"[:300])
    return exc


def in_face_envelope(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """App-level handler: the face's own envelope and status for any error
    that reached the app without being answered by a face."""
    error = domain_error(request, exc)
    response = face_handler(request.url.path)(request, error)
    if isinstance(error, WrongMethod) and isinstance(exc, HTTPException) and exc.headers:
        allow = exc.headers.get("Allow") or exc.headers.get("allow")
        if allow:
            response.headers["Allow"] = allow
    return response
