"""The console's routers, and an app of its own for `admin.bind`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from api.http.admin import dashboard, login, merchants, ops, orders, transfers
from api.http.admin.context import admin_context
from api.http.admin.render import on_error
from api.http.state import app_lifespan, provide_app_state
from engine import totp_sealing
from engine.clock import Clock
from engine.config import Settings

STATIC = Path(__file__).resolve().parent / "static"


async def console_open(request: Request[Any, Any, Any]) -> Response[str] | None:
    """404 for the whole console until an enabled account exists."""
    if await admin_context(request).is_open(request.app.state.app_state):
        return None
    return Response("Not Found\n", status_code=404, media_type="text/plain")


def console_routers() -> list[Any]:
    handlers = [*login.HANDLERS, *dashboard.HANDLERS, *orders.HANDLERS, *transfers.HANDLERS]
    handlers += [*merchants.HANDLERS, *ops.HANDLERS]
    pages = Router(
        path="/admin",
        route_handlers=handlers,
        before_request=console_open,
        exception_handlers={Exception: on_error},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/admin/static",
        directories=[STATIC],
        name="admin_static",
        before_request=console_open,
        cache_control=CacheControlHeader(max_age=300, private=True),
    )
    return [pages, static]


def routers(settings: Settings) -> list[Any]:
    """For the API app: the console, unless it has a listener of its own."""
    return [] if settings.admin.bind else console_routers()


def create_admin_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    """The console alone, for `admin.bind` (e.g. a port reachable over a VPN
    only); the same state as the API app, built the same way."""
    totp_sealing.configure(settings.admin.totp_key.get_secret_value())
    return Litestar(
        route_handlers=console_routers(),
        lifespan=[app_lifespan(settings, clock)],
        logging_config=None,
        dependencies={"app_state": Provide(provide_app_state, sync_to_thread=False)},
        openapi_config=None,
    )
