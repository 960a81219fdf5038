"""Seed 004 type 2 on the usdt face: orders paid by an exchange internal
transfer (plat OKX / BINANCE / HTX), and their supplement.

`plat` LINK means on-chain (type 1). A type 2 order's `u_addr` is what the
payer sends to at the exchange (the receiving account's pay-to id, its
uid by default) and `u_type` names the platform. The supplement asks the
exchange with the payer's identifiers, with no database session open, and
settles through the watcher's path; each failed check has its reason code.
"""

from __future__ import annotations

from typing import Any

from api.http.state import AppState
from api.http.wire import int_field, text_field
from engine.db import unit_of_work
from engine.errors import BadInput, UpstreamError, UsdtPayError
from engine.exchanges import queries
from engine.exchanges.accounts import pay_to
from engine.exchanges.ingest import exchange_rules
from engine.exchanges.ports import PLAT_OF
from engine.exchanges.supplement import NoAccount, lookup_window, verify_and_settle_record
from engine.models import Order
from watchers.exchanges.build import reader_for_account

PLATS = {plat: exchange for exchange, plat in PLAT_OF.items()}
ON_CHAIN = "LINK"


def exchange_of(fields: dict[str, Any]) -> str | None:
    """The exchange a create asks for, or None for an on-chain order."""
    kind = int_field(fields, "type", default=1, choices=(1, 2))
    plat = text_field(fields, "plat", required=False, max_len=16).strip().upper()
    if kind == 1 or plat == ON_CHAIN:
        return None
    if plat not in PLATS:
        shown = f" (got {plat[:16]!r})" if plat else ""
        raise BadInput(f"type 2 needs plat OKX, BINANCE or HTX{shown}; plat LINK means on-chain (type 1)")
    return PLATS[plat]


def exchange_extra(exchange: str | None) -> dict[str, Any]:
    return {"type": 2, "plat": PLAT_OF[exchange]} if exchange else {}


async def receiver(app_state: AppState, order: Order) -> str:
    """What the payer sends to: the account's pay-to id (its uid by default)."""
    assert order.chain is not None and order.address is not None
    async with app_state.sessions() as session:
        account = await queries.account_by_uid(session, order.chain, order.address)
    return pay_to(account) if account is not None else order.address


async def supplement(app_state: AppState, order: Order, hash_text: str, p_addr: str) -> Order:
    """Verify the payer's identifiers at the exchange and settle the order."""
    assert order.chain is not None and order.address is not None
    rules = exchange_rules(app_state.settings.orders.late_window_minutes)
    async with app_state.sessions() as session:
        account = await queries.account_by_uid(session, order.chain, order.address)
    if account is None:
        raise NoAccount(f"the receiving {PLAT_OF[order.chain]} account of this order is no longer registered")
    start, end = lookup_window(order, rules, app_state.now())
    reader = reader_for_account(account, app_state.settings)
    try:
        records = await reader.find(hash_text.strip(), p_addr.strip(), start, end)
    except UsdtPayError:
        raise
    except Exception as exc:  # the exchange's error text may be shown: it never holds our secret
        raise UpstreamError(
            f"{PLAT_OF[order.chain]} could not be asked ({type(exc).__name__}); retry later"
        ) from exc
    finally:
        await reader.aclose()
    async with unit_of_work(app_state.sessions) as session:
        return await verify_and_settle_record(session, order.id, records, rules, app_state.now())
