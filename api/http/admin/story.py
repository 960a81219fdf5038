"""An order's whole story as one time line: created, amount reserved,
payments at a channel, transfers seen and matched, operators' decisions,
settlement, every notification attempt with its answer, console actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.admin.queries import OrderRecords
from engine.money import format_fen, format_usdt
from engine.notify.admin import DeliveryView


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # css class: order | chain | fiat | notify | operator | warn
    title: str
    detail: str = ""


def _order_events(r: OrderRecords, now: datetime) -> list[Event]:
    o = r.order
    price = f"{format_fen(o.fiat_fen)} CNY" if o.fiat_fen is not None else ""
    usdt = f"{format_usdt(o.usdt_units)} USDT" if o.usdt_units is not None else ""
    via = o.chain or o.channel or "payer picks later"
    merchant = r.merchant.pid if r.merchant else o.merchant_id
    events = [
        Event(
            o.created_at,
            "order",
            f"Order created ({o.face} face, merchant {merchant})",
            f"{o.merchant_order_no}: {' = '.join(x for x in (price, usdt) if x)} via {via}"
            + (f" at rate {o.rate}" if o.rate else ""),
        ),
    ]
    events += [
        Event(
            o.created_at,
            "order",
            "Amount reserved",
            f"{format_usdt(x.amount_units)} USDT at {x.address} ({x.chain}), "
            f"held until {x.held_until:%Y-%m-%d %H:%M:%S}Z",
        )
        for x in r.reservations
        if x.order_id == o.id
    ]
    label = "Expired" if now >= o.expires_at else "Expires"
    if o.paid_at is not None and o.paid_at <= o.expires_at:
        label = "Payment window ended" if now >= o.expires_at else "Payment window ends"
    events.append(
        Event(o.expires_at, "warn" if o.status == "expired" else "order", label, f"status now: {o.status}")
    )
    if o.paid_at is not None:
        late = " (paid late, inside the late-payment window)" if o.paid_late else ""
        paid = f"{format_usdt(o.paid_units)} USDT" if o.paid_units is not None else "at the channel"
        events.append(
            Event(
                o.paid_at,
                "order",
                f"Order paid{late}",
                f"{paid}; tx {o.tx_hash or o.channel_trade_no or '-'}",
            )
        )
    return events


def _money_events(r: OrderRecords) -> list[Event]:
    events = []
    for p in r.payments:
        events.append(
            Event(
                p.created_at,
                "fiat",
                f"Payment opened at {p.channel} ({p.client_type})",
                f"{p.out_trade_no}: {format_fen(p.amount_fen)} CNY, now {p.status}",
            )
        )
        if p.paid_at is not None:
            events.append(
                Event(p.paid_at, "fiat", f"Paid at {p.channel}", f"trade no {p.channel_trade_no or '-'}")
            )
    for t in r.transfers:
        events.append(
            Event(
                t.block_time,
                "chain",
                f"Transfer on {t.chain}: {format_usdt(t.amount_units)} USDT",
                f"from {t.from_address} to {t.to_address}; tx {t.tx_hash} log {t.log_index}, "
                f"block {t.block_number}",
            )
        )
        state = "matched to this order" if t.status == "matched" and t.order_id == r.order.id else t.status
        reason = f" ({t.reason})" if t.reason else ""
        events.append(
            Event(
                t.created_at,
                "chain" if t.status == "matched" else "warn",
                f"Seen by {t.source}: {state}{reason}",
                f"transfer {t.id}",
            )
        )
        decision = r.decisions.get(t.id)
        if decision is not None:
            events.append(
                Event(
                    decision.decided_at,
                    "operator",
                    f"Operator {decision.decision} transfer {t.id}",
                    f"by {decision.decided_by}: {decision.note}",
                )
            )
    return events


def _notify_events(deliveries: list[DeliveryView]) -> list[Event]:
    events = []
    for view in deliveries:
        n = view.notification
        events.append(
            Event(
                n.created_at,
                "notify",
                f"Notification queued ({n.event}, {n.scheme})",
                f"{n.url}; delivery id {n.delivery_id}; now {n.status}",
            )
        )
        for a in view.attempts:
            answer = f"HTTP {a.http_status}" if a.http_status is not None else (a.error or "no answer")
            body = f": {a.response_body[:120]!r}" if a.response_body else ""
            latency = f" in {a.latency_ms} ms" if a.latency_ms is not None else ""
            events.append(
                Event(
                    a.started_at,
                    "notify" if a.outcome == "delivered" else "warn",
                    f"Notification attempt #{a.attempt_no}: {a.outcome}",
                    f"{answer}{latency}{body}",
                )
            )
    return events


def timeline(r: OrderRecords, deliveries: list[DeliveryView], now: datetime) -> list[Event]:
    events = _order_events(r, now) + _money_events(r) + _notify_events(deliveries)
    events += [
        Event(
            e.at,
            "operator",
            f"Console: {e.action} by {e.username}" + ("" if e.ok else " (refused)"),
            e.note or "",
        )
        for e in r.audit
    ]
    return sorted(events, key=lambda e: e.at)
