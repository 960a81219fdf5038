"""Console sign-in state: the session cookie, the signed-in operator, CSRF
tokens on every form, and role checks.

The cookie holds a random token (the database keeps its SHA-256); it is
HttpOnly, Secure, SameSite=Strict and scoped to /admin. Every POST carries
the session's CSRF token (a hidden `csrf` field, or the X-CSRF-Token header
htmx sends), compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie

from api.http.admin.context import AdminContext, admin_context
from api.http.state import AppState
from api.http.wire import client_ip
from engine.admin import roles, service
from engine.db import unit_of_work
from engine.models import AdminAccount, AdminSession

COOKIE = "usdtpay_admin"
LOGIN_COOKIE = "usdtpay_admin_login"  # the login form's CSRF value, before any session
PATH = "/admin"
MAX_FORM_FIELD = 8192


class SignInNeeded(Exception):
    """No live session: the handler answers with the login page."""


class CsrfRefused(Exception):
    """A form came without the session's CSRF token."""


@dataclass(frozen=True)
class Signed:
    account: AdminAccount
    session: AdminSession
    token: str

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def can(self, action: str) -> bool:
        return roles.allowed(self.role, action)

    def require(self, action: str) -> None:
        roles.require(self.role, action)


def session_cookie(ctx: AdminContext, token: str) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        path=PATH,
        max_age=int(ctx.lifetime.total_seconds()),
        httponly=True,
        secure=ctx.settings.admin.cookie_secure,
        samesite="strict",
    )


def login_cookie(ctx: AdminContext, value: str) -> Cookie:
    return Cookie(
        key=LOGIN_COOKIE,
        value=value,
        path=PATH,
        max_age=900,
        httponly=True,
        secure=ctx.settings.admin.cookie_secure,
        samesite="strict",
    )


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode(), expected.encode())


async def load_signed(request: Request[Any, Any, Any], app_state: AppState) -> Signed:
    """The signed-in operator, or SignInNeeded."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise SignInNeeded()
    ctx = admin_context(request)
    async with unit_of_work(app_state.sessions) as session:
        found = await service.load_session(session, token, app_state.now(), ctx.idle)
    if found is None:
        raise SignInNeeded()
    return Signed(account=found[1], session=found[0], token=token)


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form as plain strings (first value of each field)."""
    form = await request.form()
    fields: dict[str, str] = {}
    for key in form:
        value = form.get(key)
        if isinstance(value, str):
            fields[key] = value[:MAX_FORM_FIELD]
    return fields


async def signed_form(request: Request[Any, Any, Any], app_state: AppState) -> tuple[Signed, dict[str, str]]:
    """For every POST: the operator and the form, after the CSRF check."""
    signed = await load_signed(request, app_state)
    fields = await form_fields(request)
    given = fields.get("csrf") or request.headers.get("x-csrf-token")
    if not same_token(given, signed.csrf):
        raise CsrfRefused()
    return signed, fields


def sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    target = request.url.path if request.method == "GET" else PATH + "/"
    location = f"{PATH}/login?next={quote(target, safe='/')}"
    if request.headers.get("hx-request"):
        # htmx swaps fragments: ask it to load the login page whole.
        return Response("", status_code=401, headers={"HX-Redirect": location})
    return Response("", status_code=303, headers={"Location": location})


def ip_of(request: Request[Any, Any, Any]) -> str:
    return client_ip(request)
