"""Console actions that reach outside the database: send a notification
now, verify a supplement hash on chain, close a payment at its channel.
Each writes its audit line in the unit of work that changes the rows."""

from __future__ import annotations

from typing import Any

from api.http.state import AppState
from engine.addresses import normalize_tx_hash
from engine.admin import operations, queries, service
from engine.db import unit_of_work
from engine.errors import BusinessRule, NotFound, UpstreamError, UsdtPayError
from engine.models import Order
from engine.notify.admin import DeliveryView, list_deliveries, schedule_retry
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from engine.orders.queries import require_order
from engine.settlement import rules_for
from engine.supplement import check_order, ensure_hash_unused, verify_and_settle
from watchers.readers import open_reader


def delivery_facts(view: DeliveryView) -> dict[str, Any]:
    n = view.notification
    last = view.attempts[-1] if view.attempts else None
    return {
        "notification": n.id,
        "status": n.status,
        "attempts": n.attempts,
        "last_http_status": last.http_status if last else None,
        "last_outcome": last.outcome if last else None,
    }


async def _delivery(app_state: AppState, notification_id: int, order_id: int) -> DeliveryView:
    async with app_state.sessions() as session:
        views = await list_deliveries(session, order_id=order_id, limit=50)
    return next(v for v in views if v.notification.id == notification_id)


async def send_now(
    app_state: AppState, ref: str, who: str, ip: str, *, action: str = "resend"
) -> DeliveryView:
    """Make a notification due, deliver it from this process at once (as
    `usdtpay notify retry --force`), and log the outcome."""
    now = app_state.now()
    async with unit_of_work(app_state.sessions) as session:
        row = await schedule_retry(session, ref, now, force=True)
        notification_id, order_id = row.id, row.order_id
    before = delivery_facts(await _delivery(app_state, notification_id, order_id))
    async with new_client(app_state.settings) as client:
        notifier = Notifier(app_state.sessions, app_state.settings, app_state.clock, client)
        await notifier.round(only_ids=[notification_id])
    view = await _delivery(app_state, notification_id, order_id)
    async with unit_of_work(app_state.sessions) as session:
        await service.record(
            session,
            who,
            action,
            app_state.now(),
            target=f"order:{order_id}",
            before=before,
            after=delivery_facts(view),
            ip=ip,
        )
    return view


async def resend_for_order(app_state: AppState, order_id: int, who: str, ip: str) -> DeliveryView:
    async with app_state.sessions() as session:
        await require_order(session, order_id)
        views = await list_deliveries(session, order_id=order_id, limit=1)
    if not views:
        raise BusinessRule(
            f"order {order_id} has no notification to send (it is not paid, its face sends none, "
            "or it has no notify URL)"
        )
    return await send_now(app_state, str(views[0].notification.id), who, ip)


async def supplement(app_state: AppState, order_id: int, tx_hash_text: str, who: str, ip: str) -> Order:
    """The API's supplement path (engine.supplement): cheap checks, the node
    asked with no session open, then verify and settle in one unit."""
    tx_hash = normalize_tx_hash(tx_hash_text)
    async with app_state.sessions() as session:
        order = await require_order(session, order_id)
        chain = check_order(order, tx_hash)
        if order.status == "paid":
            raise BusinessRule(f"order {order_id} is already paid by this transaction")
        await ensure_hash_unused(session, order, tx_hash)
        before = operations.order_facts(order)
    async with open_reader(app_state.settings, chain) as reader:
        try:
            lookup = await reader.transaction(tx_hash)
        except UsdtPayError:
            raise
        except Exception as exc:
            raise UpstreamError(
                f"the {chain} node could not be asked ({type(exc).__name__}); retry later"
            ) from exc
    rules = rules_for(app_state.settings, chain)
    async with unit_of_work(app_state.sessions) as session:
        order = await verify_and_settle(session, order_id, tx_hash, lookup, rules, app_state.now())
        await service.record(
            session,
            who,
            "supplement",
            app_state.now(),
            target=f"order:{order_id}",
            before=before,
            after=operations.order_facts(order),
            note=f"tx {tx_hash}",
            ip=ip,
        )
    return order


async def close(app_state: AppState, order_id: int, note: str, who: str, ip: str) -> None:
    """Close an unpaid order; its open fiat payments are closed at their
    channel first, so the payer cannot pay them afterwards."""
    async with app_state.sessions() as session:
        order = await require_order(session, order_id)
        pending = await queries.pending_payments(session, order.id)
    for payment in pending:
        channel = app_state.channels.get(payment.channel)
        if channel is None:
            raise NotFound(f"the {payment.channel} channel is not configured here; cannot close its payment")
        await channel.close(payment.out_trade_no)
    async with unit_of_work(app_state.sessions) as session:
        before, after = await operations.close_order(session, order_id, pending)
        await service.record(
            session,
            who,
            "close_order",
            app_state.now(),
            target=f"order:{order_id}",
            before=before,
            after=after,
            note=note,
            ip=ip,
        )
