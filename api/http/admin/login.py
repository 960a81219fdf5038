"""Sign in (password and TOTP code, rate-limited across processes) and sign out."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from api.http.admin import auth
from api.http.admin.context import AdminContext, admin_context
from api.http.admin.render import page
from api.http.client_address import client_source
from api.http.state import AppState
from engine.admin import login_limit, service
from engine.db import unit_of_work


def _next_path(value: str) -> str:
    """Only a path inside the console (no scheme, no //host)."""
    if value.startswith("/admin") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return "/admin/"


def _login_page(request: Request[Any, Any, Any], *, status: int = 200, error: str = "") -> Response[str]:
    ctx = admin_context(request)
    token = auth.new_login_token()
    response = page(
        request,
        "login.html",
        signed=None,
        status=status,
        error=error,
        login_csrf=token,
        next=_next_path(request.query_params.get("next", "")),
    )
    response.set_cookie(auth.login_cookie(ctx, token))
    return response


@get("/login", operation_id="adminLoginPage", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any]) -> Response[str]:
    return _login_page(request)


async def _refused(app_state: AppState, username: str, why: str, ip: str) -> None:
    async with unit_of_work(app_state.sessions) as session:
        await service.record(session, username or "-", "login", app_state.now(), ok=False, note=why, ip=ip)


async def _attempt(
    app_state: AppState, ctx: AdminContext, request: Request[Any, Any, Any], username: str
) -> list[int] | None:
    """This attempt's rows in the sign-in count (per source, an IPv6 client
    by its /64, and per username), or None when it is over the limit."""
    now = app_state.now()
    keys, since = login_limit.keys_for(client_source(request), username), now - ctx.login_window
    async with unit_of_work(app_state.sessions) as session:
        return await login_limit.admit(session, keys, now, since, ctx.settings.admin.login_attempts)


@post("/login", operation_id="adminLogin", include_in_schema=False)
async def login(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    ctx = admin_context(request)
    fields = await auth.form_fields(request)
    ip = auth.ip_of(request)
    username = fields.get("username", "").strip()[:64]
    if not auth.same_token(fields.get("csrf"), request.cookies.get(auth.LOGIN_COOKIE, "")):
        return _login_page(request, status=403, error="The form expired; please sign in again.")
    attempt = await _attempt(app_state, ctx, request, username)
    if attempt is None:
        await _refused(app_state, username, "rate limited", ip)
        return _login_page(request, status=429, error="Too many attempts; wait a few minutes and try again.")
    now = app_state.now()
    try:
        async with unit_of_work(app_state.sessions) as session:
            account = await service.authenticate(
                session, username, fields.get("password", ""), fields.get("code", ""), now
            )
            token, _ = await service.open_session(session, account, now, ctx.lifetime, ip)
            await service.record(session, account.username, "login", now, ip=ip)
            await login_limit.forget(session, attempt)  # only failures count
    except service.LoginRefused as exc:
        await _refused(app_state, username, exc.why, ip)
        return _login_page(request, status=403, error=exc.message)
    target = _next_path(fields.get("next", ""))
    response: Response[Any] = Response("", status_code=303, headers={"Location": target})
    response.set_cookie(auth.session_cookie(ctx, token))
    response.delete_cookie(auth.LOGIN_COOKIE, path=auth.PATH)
    return response


@post("/logout", operation_id="adminLogout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    signed, _ = await auth.signed_form(request, app_state)
    async with unit_of_work(app_state.sessions) as session:
        await service.close_session(session, signed.token)
        await service.record(session, signed.username, "logout", app_state.now(), ip=auth.ip_of(request))
    response: Response[Any] = Response("", status_code=303, headers={"Location": "/admin/login"})
    response.delete_cookie(auth.COOKIE, path=auth.PATH)
    return response


HANDLERS = [login_page, login, logout]
