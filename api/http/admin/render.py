"""Pages and redirects with the console's security headers, and the error
pages (sign-in needed, missing CSRF token, role refused, not found)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response

from api.http.admin.auth import CsrfRefused, Signed, SignInNeeded, sign_in_redirect
from api.http.admin.context import admin_context
from api.http.state import AppState
from engine.errors import UsdtPayError

log = logging.getLogger("usdtpay.admin")

# Scripts and styles from /admin/static only (htmx runs without eval: its
# config below turns that off); no framing; forms post only to us.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
NAV = [
    ("/admin/", "Dashboard"),
    ("/admin/orders", "Orders"),
    ("/admin/transfers", "Unmatched transfers"),
    ("/admin/merchants", "Merchants"),
    ("/admin/wallets", "Wallets"),
    ("/admin/watchers", "Watchers"),
    ("/admin/notifications", "Notifications"),
    ("/admin/audit", "Audit log"),
]


def page(
    request: Request[Any, Any, Any], name: str, *, signed: Signed | None, status: int = 200, **values: Any
) -> Response[str]:
    app_state: AppState = request.app.state.app_state
    html = admin_context(request).render(
        name,
        signed=signed,
        nav=NAV,
        path=request.url.path,
        now=app_state.now(),
        flash_ok=request.query_params.get("ok", "")[:300],
        flash_error=request.query_params.get("error", "")[:300],
        **values,
    )
    return Response(html, media_type="text/html", status_code=status, headers=HEADERS)


def back(path: str, *, ok: str = "", error: str = "") -> Response[Any]:
    """303 to a console page with a one-line message."""
    query = urlencode({k: v for k, v in (("ok", ok), ("error", error)) if v})
    location = path + ("?" + query if query else "")
    return Response("", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def problem(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[str]:
    return page(request, "problem.html", signed=None, status=status, title=title, message=message)


def on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The console's exception handler: never a stack trace, never a 500 for
    bad input."""
    if isinstance(exc, SignInNeeded):
        return sign_in_redirect(request)
    if isinstance(exc, CsrfRefused):
        message = "This form was sent without its security token (CSRF). Reload the page and try again."
        return problem(request, 403, "Refused", message)
    if isinstance(exc, UsdtPayError):
        status = exc.status if exc.status < 500 else 503
        return problem(request, status, "Not found" if status == 404 else "Refused", exc.message)
    status = getattr(exc, "status_code", 500)
    if isinstance(status, int) and 400 <= status < 500:
        return problem(
            request, status, "Not found" if status == 404 else "Refused", str(getattr(exc, "detail", ""))
        )
    log.exception("operator console error on %s", request.url.path)
    return problem(request, 500, "Error", "Something went wrong; the server log has the details.")
