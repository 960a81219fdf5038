"""Fiat reconciliation against the WeChat Pay and Alipay simulators: every
payment of the window is queried at its channel and compared."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from api.cli.reconcile import run
from api.http.channel_payments import start_fiat_payment
from engine.audit.blocks import ReconcileIncomplete
from engine.audit.report import report_document
from engine.fiat.channel import ClientKind
from tests.fakes.fiat_http import SimResponse
from tests.integration.bridges.world import (  # noqa: F401
    World,
    alipay_sim,
    quickpay_sim,
    wechat_sim,
    world,
)

pytestmark = pytest.mark.timeout(60)


def args(tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(
        since=None, to=None, chain=None, channel=["wechat", "alipay"], out=str(tmp_path)
    )


async def test_channels_agree_and_a_lost_callback_is_found(world: World, tmp_path: Path) -> None:  # noqa: F811
    paid = await world.order(no="F-PAID")
    lost = await world.order(no="F-LOST")
    open_ = await world.order(no="F-OPEN")
    p1 = await start_fiat_payment(world.state, paid.id, "wechat", ClientKind.QR)
    await world.wechat.pay(p1.out_trade_no)  # callback delivered: the order is paid
    p2 = await start_fiat_payment(world.state, lost.id, "wechat", ClientKind.QR)
    await world.wechat.pay(p2.out_trade_no, drop=True)  # paid at WeChat, callback lost
    await start_fiat_payment(world.state, open_.id, "alipay", ClientKind.QR)

    report = await run(world.state.settings, args(tmp_path), Console(file=io.StringIO()))

    by_order = {f.order_id: f for f in report.findings}
    assert set(by_order) == {paid.id, lost.id, open_.id}
    assert by_order[paid.id].kind == "fiat_matched" and by_order[paid.id].chain_units == 10000
    assert by_order[open_.id].kind == "fiat_matched" and by_order[open_.id].source == "alipay"
    missed = by_order[lost.id]
    assert missed.kind == "fiat_status_differs" and "channel says paid" in missed.message
    assert missed.unit == "CNY" and (missed.db_units, missed.chain_units) == (10000, 10000)
    assert report.exit_code == 1
    document = json.loads(json.dumps(report_document(report, report.end)))
    assert document["summary"]["wechat"] == {"fiat_matched": 1, "fiat_status_differs": 1}


async def test_a_failing_channel_stops_the_run(world: World, tmp_path: Path) -> None:  # noqa: F811
    order = await world.order(no="F-ERR")
    await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    world.wechat.faults.extend([SimResponse(500, b'{"code":"SYSTEM_ERROR","message":"x"}')] * 5)
    with pytest.raises(ReconcileIncomplete, match=r"wechat: the query for payment .* failed"):
        await run(world.state.settings, args(tmp_path), Console(file=io.StringIO()))
