"""The dashboard (figures refresh every 10 s through htmx) and the
watchers page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.http.admin import auth
from api.http.admin.figures import dashboard
from api.http.admin.render import page
from api.http.state import AppState


@get("/", operation_id="adminDashboard", include_in_schema=False)
async def dashboard_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    figures = await dashboard(app_state)
    if request.headers.get("hx-request"):
        return page(request, "_figures.html", signed=signed, d=figures)
    return page(request, "dashboard.html", signed=signed, d=figures, title="Dashboard")


@get("/watchers", operation_id="adminWatchers", include_in_schema=False)
async def watchers_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    figures = await dashboard(app_state)
    return page(request, "watchers.html", signed=signed, d=figures, title="Watchers")


HANDLERS = [dashboard_page, watchers_page]
