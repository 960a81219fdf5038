"""The Litestar application: one router per protocol face."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get
from litestar.di import Provide
from litestar.exceptions import HTTPException

from api.http import docs, errors, metrics, pages, receivers
from api.http.faces import cashier, checkout, dryad, epay, quickpay, usdt
from api.http.state import app_lifespan, provide_app_state
from engine import merchant_keys, totp_sealing
from engine.clock import Clock
from engine.config import Settings


@get(
    "/healthz",
    operation_id="liveness",
    summary="Liveness: answers without touching the database",
    description="Readiness (database, watchers, rate, notifier) is /api/health.",
    response_description='Always `{"ok": true}` while the process serves requests',
)
async def healthz() -> dict[str, bool]:
    return {"ok": True}


MAX_REQUEST_BODY = 256 * 1024


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    # Merchants' signing keys open (and are sealed) with this from now on.
    merchant_keys.configure(settings.merchant_keys_secret.get_secret_value())
    totp_sealing.configure(settings.admin.totp_key.get_secret_value())  # console accounts' TOTP secrets
    lifespan = app_lifespan(settings, clock)

    from api.http.admin import routes as admin_routes  # the operator console

    routers: list[Any] = [
        usdt.router(),
        cashier.router(),
        checkout.router(),
        dryad.router(),
        quickpay.router(),
        epay.router(),
        receivers.router(),
        metrics.router(),
        *admin_routes.routers(settings),
        *pages.routers(),
        docs.assets_router(),
    ]
    return Litestar(
        route_handlers=[healthz, *routers],
        lifespan=[lifespan],
        # Logging is configured once by api.logging (structlog JSON lines);
        # Litestar's default config would replace the root handler.
        logging_config=None,
        # No route buffers more than this (Litestar's default is 10 MB);
        # the faces stop at 64 KiB while streaming (api.http.wire.read_body).
        request_max_body_size=MAX_REQUEST_BODY,
        dependencies={"app_state": Provide(provide_app_state, sync_to_thread=False)},
        openapi_config=docs.openapi_config(),
        # Unknown paths, wrong methods, framework validation and size errors:
        # answered in the envelope of the face the path belongs to.
        exception_handlers={HTTPException: errors.in_face_envelope},
    )
