"""Orders: search by any id, the order's story, and the actions on it
(resend the notification, supplement by hash, close an unpaid order)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from api.http.admin import actions, auth
from api.http.admin.acting import perform
from api.http.admin.render import page
from api.http.admin.story import timeline
from api.http.state import AppState
from engine.admin import queries
from engine.notify.admin import list_deliveries
from engine.orders.queries import require_order


@get("/orders", operation_id="adminOrders", include_in_schema=False)
async def orders_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    q = request.query_params.get("q", "").strip()[:128]
    async with app_state.sessions() as session:
        found = await queries.search_orders(session, q) if q else await queries.recent_orders(session)
    if request.headers.get("hx-request"):
        return page(request, "_orders_table.html", signed=signed, orders=found, q=q)
    return page(request, "orders.html", signed=signed, orders=found, q=q, title="Orders")


@get("/orders/{order_id:int}", operation_id="adminOrder", include_in_schema=False)
async def order_page(request: Request[Any, Any, Any], app_state: AppState, order_id: int) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    async with app_state.sessions() as session:
        order = await require_order(session, order_id)
        records = await queries.order_records(session, order)
        deliveries = await list_deliveries(session, order_id=order_id, limit=20)
    return page(
        request,
        "order.html",
        signed=signed,
        r=records,
        deliveries=deliveries,
        events=timeline(records, deliveries, app_state.now()),
        title=f"Order {order_id}",
    )


@post("/orders/{order_id:int}/resend", operation_id="adminResend", include_in_schema=False)
async def resend(request: Request[Any, Any, Any], app_state: AppState, order_id: int) -> Response[Any]:
    async def work(signed: auth.Signed, _: dict[str, str]) -> str:
        view = await actions.resend_for_order(app_state, order_id, signed.username, auth.ip_of(request))
        n = view.notification
        last = view.attempts[-1] if view.attempts else None
        answer = f" (HTTP {last.http_status})" if last and last.http_status is not None else ""
        return f"notification {n.id} sent: {n.status}{answer}"

    return await perform(request, app_state, "resend", f"order:{order_id}", f"/admin/orders/{order_id}", work)


@post("/orders/{order_id:int}/supplement", operation_id="adminSupplement", include_in_schema=False)
async def supplement(request: Request[Any, Any, Any], app_state: AppState, order_id: int) -> Response[Any]:
    async def work(signed: auth.Signed, fields: dict[str, str]) -> str:
        tx = fields.get("tx_hash", "")
        order = await actions.supplement(app_state, order_id, tx, signed.username, auth.ip_of(request))
        return f"verified on {order.chain}: order {order.id} is {order.status}"

    return await perform(
        request, app_state, "supplement", f"order:{order_id}", f"/admin/orders/{order_id}", work
    )


@post("/orders/{order_id:int}/close", operation_id="adminCloseOrder", include_in_schema=False)
async def close(request: Request[Any, Any, Any], app_state: AppState, order_id: int) -> Response[Any]:
    async def work(signed: auth.Signed, fields: dict[str, str]) -> str:
        await actions.close(app_state, order_id, fields.get("note", ""), signed.username, auth.ip_of(request))
        return f"order {order_id} closed"

    return await perform(
        request, app_state, "close_order", f"order:{order_id}", f"/admin/orders/{order_id}", work
    )


HANDLERS = [orders_page, order_page, resend, supplement, close]
