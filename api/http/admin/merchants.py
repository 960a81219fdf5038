"""Merchants (list with figures, add, disable / enable, rotate the key,
shown once) and wallets (list with live reservations, add, disable)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post

from api.http.admin import auth
from api.http.admin.acting import audit_refusal, perform
from api.http.admin.render import back, page
from api.http.state import AppState
from engine.admin import operations, queries, service
from engine.admin.roles import NotAllowed
from engine.db import unit_of_work
from engine.errors import BadInput, UsdtPayError
from engine.merchants import add_merchant, add_wallet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@get("/merchants", operation_id="adminMerchants", include_in_schema=False)
async def merchants_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    async with app_state.sessions() as session:
        figures = await queries.merchant_figures(session, EPOCH)
    return page(request, "merchants.html", signed=signed, figures=figures, new_key=None, title="Merchants")


async def _key_page(
    request: Request[Any, Any, Any], signed: auth.Signed, app_state: AppState, pid: str, key: str
) -> Response[str]:
    """The one time a key is shown: on this answer (never cached)."""
    async with app_state.sessions() as session:
        figures = await queries.merchant_figures(session, EPOCH)
    return page(
        request, "merchants.html", signed=signed, figures=figures, new_key=(pid, key), title="Merchants"
    )


async def _operator_form(
    request: Request[Any, Any, Any], app_state: AppState, action: str, target: str
) -> tuple[auth.Signed, dict[str, str]]:
    signed, fields = await auth.signed_form(request, app_state)
    if not signed.can(action):
        await audit_refusal(
            app_state, signed, action, target, auth.ip_of(request), f"the {signed.role} role may not {action}"
        )
        raise NotAllowed(f"the {signed.role} role may not {action.replace('_', ' ')}; ask an operator")
    return signed, fields


@post("/merchants", operation_id="adminAddMerchant", include_in_schema=False)
async def merchant_add(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    signed, fields = await _operator_form(request, app_state, "add_merchant", "merchant:new")
    pid = fields.get("pid", "").strip()
    key = operations.new_merchant_key()
    now = app_state.now()
    try:
        async with unit_of_work(app_state.sessions) as session:
            await add_merchant(session, pid, key, fields.get("name", "").strip()[:128], now)
            await service.record(
                session,
                signed.username,
                "add_merchant",
                now,
                target=f"merchant:{pid}",
                after={"pid": pid, "key": key[:4] + "…"},
                ip=auth.ip_of(request),
            )
    except UsdtPayError as exc:
        return back("/admin/merchants", error=exc.message)
    return await _key_page(request, signed, app_state, pid, key)


@post("/merchants/{pid:str}/rotate", operation_id="adminRotateKey", include_in_schema=False)
async def merchant_rotate(request: Request[Any, Any, Any], app_state: AppState, pid: str) -> Response[Any]:
    signed, _ = await _operator_form(request, app_state, "rotate_key", f"merchant:{pid}")
    now = app_state.now()
    try:
        async with unit_of_work(app_state.sessions) as session:
            key, (before, after) = await operations.rotate_merchant_key(session, pid)
            await service.record(
                session,
                signed.username,
                "rotate_key",
                now,
                target=f"merchant:{pid}",
                before=before,
                after=after,
                ip=auth.ip_of(request),
            )
    except UsdtPayError as exc:
        return back("/admin/merchants", error=exc.message)
    app_state.merchants.forget(pid)  # the old key stops working here at once
    return await _key_page(request, signed, app_state, pid, key)


def _switch(kind: str, enabled: bool) -> Any:
    action = f"{'enable' if enabled else 'disable'}_{kind}"

    async def handler(request: Request[Any, Any, Any], app_state: AppState, ref: str) -> Response[Any]:
        async def work(signed: auth.Signed, _: dict[str, str]) -> str:
            now = app_state.now()
            async with unit_of_work(app_state.sessions) as session:
                if kind == "merchant":
                    before, after = await operations.set_merchant_enabled(session, ref, enabled)
                else:
                    if not ref.isdigit():
                        raise BadInput("wallet id must be a number")
                    before, after = await operations.set_wallet_enabled(session, int(ref), enabled)
                await service.record(
                    session,
                    signed.username,
                    action,
                    now,
                    target=f"{kind}:{ref}",
                    before=before,
                    after=after,
                    ip=auth.ip_of(request),
                )
            if kind == "merchant":
                app_state.merchants.forget(ref)
            return f"{kind} {ref} {'enabled' if enabled else 'disabled'}"

        return await perform(request, app_state, action, f"{kind}:{ref}", f"/admin/{kind}s", work)

    path = f"/{kind}s/{{ref:str}}/{'enable' if enabled else 'disable'}"
    return post(path, operation_id=f"admin_{action}", include_in_schema=False)(handler)


@get("/wallets", operation_id="adminWallets", include_in_schema=False)
async def wallets_page(request: Request[Any, Any, Any], app_state: AppState) -> Response[str]:
    signed = await auth.load_signed(request, app_state)
    async with app_state.sessions() as session:
        loads = await queries.wallets_with_reservations(session, app_state.now())
    return page(request, "wallets.html", signed=signed, loads=loads, title="Wallets")


@post("/wallets", operation_id="adminAddWallet", include_in_schema=False)
async def wallet_add(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    async def work(signed: auth.Signed, fields: dict[str, str]) -> str:
        chain = fields.get("chain", "")
        if chain not in ("tron", "eth"):
            raise BadInput("chain must be tron or eth")
        now = app_state.now()
        async with unit_of_work(app_state.sessions) as session:
            wallet = await add_wallet(
                session, chain, fields.get("address", "").strip(), now, fields.get("label", "")[:64]
            )
            await service.record(
                session,
                signed.username,
                "add_wallet",
                now,
                target=f"wallet:{wallet.id}",
                after={"chain": chain, "address": wallet.address},
                ip=auth.ip_of(request),
            )
        return f"wallet {wallet.address} on {chain} added (watch-only)"

    return await perform(request, app_state, "add_wallet", "wallet:new", "/admin/wallets", work)


HANDLERS = [
    merchants_page,
    merchant_add,
    merchant_rotate,
    _switch("merchant", False),
    _switch("merchant", True),
    wallets_page,
    wallet_add,
    _switch("wallet", False),
    _switch("wallet", True),
]
