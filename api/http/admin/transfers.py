"""Unmatched transfers: the list with reasons and likely orders, and the
operator's resolution (credit to an order, or refunded outside usdtpay)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from api.http.admin import auth
from api.http.admin.acting import field_int, perform
from api.http.admin.render import page
from api.http.state import AppState
from engine.admin import decisions, queries, service
from engine.db import unit_of_work


@get("/transfers", operation_id="adminTransfers", include_in_schema=False)
async def transfers_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    resolved = request.query_params.get("resolved", "") == "1"
    async with app_state.sessions() as session:
        rows = await queries.unmatched_transfers(session, resolved=resolved)
    title = "Resolved transfers" if resolved else "Unmatched transfers"
    return page(request, "transfers.html", signed=signed, rows=rows, resolved=resolved, title=title)


@post("/transfers/{transfer_id:int}/credit", operation_id="adminCredit", include_in_schema=False)
async def credit(request: Request[Any, Any, Any], app_state: AppState, transfer_id: int) -> Response[Any]:
    async def work(signed: auth.Signed, fields: dict[str, str]) -> str:
        order_id = field_int(fields, "order_id")
        note = fields.get("note", "")
        now = app_state.now()
        async with unit_of_work(app_state.sessions) as session:
            decision = await decisions.credit_transfer(
                session, transfer_id, order_id, note, signed.username, now
            )
            await service.record(
                session,
                signed.username,
                "credit",
                now,
                target=f"order:{order_id}",
                before={"transfer": transfer_id, "reason": decision.reason_before, "order_status": "unpaid"},
                after={"transfer": transfer_id, "decision": decision.decision, "order_status": "paid"},
                note=decision.note,
                ip=auth.ip_of(request),
            )
        return f"transfer {transfer_id} credited to order {order_id}; the merchant will be notified"

    return await perform(request, app_state, "credit", f"transfer:{transfer_id}", "/admin/transfers", work)


@post("/transfers/{transfer_id:int}/refund", operation_id="adminRefunded", include_in_schema=False)
async def refunded(request: Request[Any, Any, Any], app_state: AppState, transfer_id: int) -> Response[Any]:
    async def work(signed: auth.Signed, fields: dict[str, str]) -> str:
        now = app_state.now()
        async with unit_of_work(app_state.sessions) as session:
            decision = await decisions.mark_refunded(
                session, transfer_id, fields.get("note", ""), signed.username, now
            )
            await service.record(
                session,
                signed.username,
                "refunded",
                now,
                target=f"transfer:{transfer_id}",
                before={"status": "unmatched", "reason": decision.reason_before},
                after={"decision": decision.decision},
                note=decision.note,
                ip=auth.ip_of(request),
            )
        return f"transfer {transfer_id} marked refunded outside usdtpay"

    return await perform(request, app_state, "refunded", f"transfer:{transfer_id}", "/admin/transfers", work)


HANDLERS = [transfers_page, credit, refunded]
