"""The notification queue (retry now, give up) and the audit log."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from api.http.admin import actions, auth
from api.http.admin.acting import perform
from api.http.admin.render import page
from api.http.state import AppState
from engine.admin import queries, service
from engine.db import unit_of_work
from engine.notify.admin import give_up, list_deliveries

STATUSES = ("pending", "failed", "delivered")


@get("/notifications", operation_id="adminNotifications", include_in_schema=False)
async def notifications_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    async with app_state.sessions() as session:
        views = await list_deliveries(session, status=status or None, limit=100)
    return page(
        request, "notifications.html", signed=signed, views=views, shown=status, title="Notifications"
    )


@post("/notifications/{ref:int}/retry", operation_id="adminRetryNotification", include_in_schema=False)
async def retry(request: Request[Any, Any, Any], app_state: AppState, ref: int) -> Response[Any]:
    async def work(signed: auth.Signed, _: dict[str, str]) -> str:
        view = await actions.send_now(app_state, str(ref), signed.username, auth.ip_of(request))
        return f"notification {ref} sent again: {view.notification.status}"

    return await perform(request, app_state, "resend", f"notification:{ref}", "/admin/notifications", work)


@post("/notifications/{ref:int}/give-up", operation_id="adminGiveUpNotification", include_in_schema=False)
async def give_up_one(request: Request[Any, Any, Any], app_state: AppState, ref: int) -> Response[Any]:
    async def work(signed: auth.Signed, _: dict[str, str]) -> str:
        now = app_state.now()
        async with unit_of_work(app_state.sessions) as session:
            row = await give_up(session, str(ref), now)
            await service.record(
                session,
                signed.username,
                "give_up",
                now,
                target=f"order:{row.order_id}",
                before={"notification": ref, "status": "pending"},
                after={"notification": ref, "status": row.status},
                ip=auth.ip_of(request),
            )
        return f"notification {ref} given up"

    return await perform(request, app_state, "give_up", f"notification:{ref}", "/admin/notifications", work)


@get("/audit", operation_id="adminAudit", include_in_schema=False)
async def audit_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    action = request.query_params.get("action", "")[:32] or None
    async with app_state.sessions() as session:
        entries = await queries.audit_entries(session, limit=300, action=action)
        accounts = await queries.list_accounts(session)
    return page(request, "audit.html", signed=signed, entries=entries, accounts=accounts, title="Audit log")


HANDLERS = [notifications_page, retry, give_up_one, audit_page]
