"""Operators' decisions on unmatched transfers (never silent: each is a
`transfer_decisions` row with who, when and a required note, and
`usdtpay reconcile` reports it as an operator decision).

- credit: the transfer pays an unpaid order after all (an under- or
  over-payment the merchant accepts, a payment that came too late). It
  settles through settlement's own code path, so the order, its transfer
  link and the merchant's notification change together.
- refunded: the money went back to the payer outside usdtpay; the
  transfer stays unmatched and is marked resolved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine.admin import queries
from engine.errors import BadInput, BusinessRule, NotFound
from engine.models import Order, Transfer, TransferDecision
from engine.settlement import Settle, settle_transfer
from engine.settlement.ingest import recorded_transfer_of
from engine.settlement.queries import lock_order
from engine.settlement.rules import SETTLEABLE

MIN_NOTE = 5
CREDITED = "credited"
REFUNDED = "refunded"


class DecisionRefused(BusinessRule):
    code = "decision_refused"


def _note(note: str) -> str:
    text = note.strip()
    if len(text) < MIN_NOTE:
        raise BadInput(f"a note of at least {MIN_NOTE} characters is required: say why")
    return text[:4000]


async def _open_transfer(session: AsyncSession, transfer_id: int) -> Transfer:
    transfer = await session.get(Transfer, transfer_id, with_for_update=True)
    if transfer is None:
        raise NotFound(f"no transfer {transfer_id}")
    if transfer.status != "unmatched":
        raise DecisionRefused(f"transfer {transfer_id} is {transfer.status}, not unmatched")
    if (await queries.decisions_by_transfer(session, [transfer_id])).get(transfer_id) is not None:
        raise DecisionRefused(f"transfer {transfer_id} was decided already")
    return transfer


def _check_credit(transfer: Transfer, order: Order | None, order_id: int) -> Order:
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.status not in SETTLEABLE:
        raise DecisionRefused(
            f"order {order.id} is {order.status}; only an unpaid (pending or expired) order can be credited"
        )
    if order.chain != transfer.chain or order.address != transfer.to_address:
        raise DecisionRefused(
            f"the transfer went to {transfer.to_address} on {transfer.chain}; order {order.id} "
            f"expects payment at {order.address or 'no address'} on {order.chain or 'no chain'}"
        )
    if transfer.reason == "wrong_token" or transfer.reason == "failed_receipt":
        raise DecisionRefused(f"a transfer recorded as {transfer.reason} moved no USDT to us")
    return order


async def credit_transfer(
    session: AsyncSession, transfer_id: int, order_id: int, note: str, who: str, now: datetime
) -> TransferDecision:
    """Settle `order_id` with the unmatched transfer; flush only."""
    text = _note(note)
    transfer = await _open_transfer(session, transfer_id)
    order = _check_credit(transfer, await lock_order(session, order_id), order_id)
    reason = transfer.reason
    outcome = await settle_transfer(
        session,
        recorded_transfer_of(transfer),
        order.id,
        now,
        source=transfer.source,
        existing_transfer_id=transfer.id,
    )
    if outcome is not Settle.SETTLED:
        raise DecisionRefused(f"order {order.id} changed meanwhile; look at it again")
    return await _record(session, transfer.id, CREDITED, order.id, reason, text, who, now)


async def mark_refunded(
    session: AsyncSession, transfer_id: int, note: str, who: str, now: datetime
) -> TransferDecision:
    """Record that the payer got the money back outside usdtpay; flush only."""
    text = _note(note)
    transfer = await _open_transfer(session, transfer_id)
    return await _record(session, transfer.id, REFUNDED, transfer.order_id, transfer.reason, text, who, now)


async def _record(
    session: AsyncSession,
    transfer_id: int,
    decision: str,
    order_id: int | None,
    reason_before: str | None,
    note: str,
    who: str,
    now: datetime,
) -> TransferDecision:
    row = TransferDecision(
        transfer_id=transfer_id,
        decision=decision,
        order_id=order_id,
        reason_before=reason_before,
        note=note,
        decided_by=who,
        decided_at=now,
    )
    session.add(row)
    await session.flush()
    return row
