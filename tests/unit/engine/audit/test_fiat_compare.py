"""Channel payments against the channel's own answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.audit.channels import ChannelView, reconcile_fiat, reconcile_payment
from engine.audit.findings import Kind
from engine.models import ChannelPayment, Order

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def payment(status: str, fen: int = 10_000, n: int = 1) -> ChannelPayment:
    return ChannelPayment(
        id=n,
        order_id=500 + n,
        channel="wechat",
        client_type="qr",
        out_trade_no=f"P{n}",
        channel_trade_no="420000" if status == "paid" else None,
        status=status,
        amount_fen=fen,
        created_at=NOW,
        paid_at=NOW if status == "paid" else None,
    )


def order_for(p: ChannelPayment, status: str) -> Order:
    return Order(
        id=p.order_id, merchant_order_no="M1", status=status, fiat_fen=p.amount_fen, currency="CNY", extra={}
    )


@pytest.mark.parametrize(
    ("row_status", "order_status", "view", "kind"),
    [
        ("paid", "paid", ChannelView("paid", 10_000, "420000"), Kind.FIAT_MATCHED),
        ("pending", "pending", ChannelView("pending", 10_000, ""), Kind.FIAT_MATCHED),
        ("pending", "pending", None, Kind.FIAT_MATCHED),
        ("pending", "expired", ChannelView("paid", 10_000, "420001"), Kind.FIAT_STATUS_DIFFERS),
        ("paid", "pending", ChannelView("paid", 10_000, "420000"), Kind.FIAT_STATUS_DIFFERS),
        ("paid", "paid", ChannelView("closed", 10_000, ""), Kind.FIAT_STATUS_DIFFERS),
        ("paid", "paid", ChannelView("paid", 9_999, "420000"), Kind.FIAT_AMOUNT_DIFFERS),
        ("paid", "paid", None, Kind.FIAT_UNKNOWN_AT_CHANNEL),
        # Another payment of the order paid it: this unpaid one still agrees.
        ("closed", "paid", ChannelView("closed", 10_000, ""), Kind.FIAT_MATCHED),
    ],
)
def test_reconcile_payment(row_status: str, order_status: str, view: ChannelView | None, kind: Kind) -> None:
    p = payment(row_status)
    finding = reconcile_payment(p, order_for(p, order_status), view)
    assert finding.kind == kind
    assert finding.unit == "CNY" and finding.db_units == 10_000
    if view is not None:
        assert finding.chain_units == view.amount_fen


def test_payments_not_queried_are_left_out() -> None:
    p1, p2 = payment("paid", n=1), payment("paid", n=2)
    findings = reconcile_fiat([p1, p2], {}, {"P1": ChannelView("paid", 10_000, "4200")})
    assert [f.address for f in findings] == ["P1"]
    assert findings[0].kind == Kind.FIAT_STATUS_DIFFERS  # the order is missing
