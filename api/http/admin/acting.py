"""One shape for every console action: CSRF-checked form, role check,
the work, a message back; refused and failed attempts are audited too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from api.http.admin import auth
from api.http.admin.render import back
from api.http.state import AppState
from engine.admin import service
from engine.admin.roles import NotAllowed
from engine.db import unit_of_work
from engine.errors import UsdtPayError

Work = Callable[[auth.Signed, dict[str, str]], Awaitable[str]]


async def audit_refusal(
    app_state: AppState, signed: auth.Signed, action: str, target: str, ip: str, why: str
) -> None:
    async with unit_of_work(app_state.sessions) as session:
        await service.record(
            session, signed.username, action, app_state.now(), target=target, ok=False, note=why[:1000], ip=ip
        )


async def perform(
    request: Request[Any, Any, Any], app_state: AppState, action: str, target: str, back_to: str, work: Work
) -> Response[Any]:
    signed, fields = await auth.signed_form(request, app_state)
    ip = auth.ip_of(request)
    if not signed.can(action):
        await audit_refusal(app_state, signed, action, target, ip, f"the {signed.role} role may not {action}")
        raise NotAllowed(f"the {signed.role} role may not {action.replace('_', ' ')}; ask an operator")
    try:
        message = await work(signed, fields)
    except UsdtPayError as exc:
        await audit_refusal(app_state, signed, action, target, ip, exc.message)
        return back(back_to, error=exc.message)
    return back(back_to, ok=message)


def field_int(fields: dict[str, str], name: str) -> int:
    from engine.errors import BadInput

    text = fields.get(name, "").strip()
    if not text.isdigit() or len(text) > 18:
        raise BadInput(f"{name.replace('_', ' ')} must be a number")
    return int(text)
