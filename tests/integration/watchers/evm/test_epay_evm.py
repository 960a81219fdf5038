"""An EPay order paid in USDT on a real local EVM node (anvil): submit.php
→ the cashier page's ERC20 amount → a real token transfer → the real
watcher settles it → api.php says paid → the notifier GETs the shop's
notify_url, verified by the shop's own EPay verifier → the return relay
signs only now."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.clock import SystemClock
from engine.config import NotifySettings, Settings
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID
from tests.fakes.epay_client import signed, verify
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.test_erc20_watcher import units, watch

pytestmark = pytest.mark.anvil
RETURN = "https://shop.example/user/pay/return"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def test_epay_order_paid_on_chain_notifies_the_shop(
    devchain: Devchain, settings: Settings, shop: Db
) -> None:
    settings = settings.model_copy(
        update={"notify": NotifySettings(allow_hosts=["127.0.0.1"], timeout_seconds=2)}
    )
    with MerchantReceiver(MERCHANT_KEY) as receiver:
        fields = {
            "pid": MERCHANT_PID,
            "type": "usdt.erc20",
            "out_trade_no": "WHMCS-INV-1001",
            "notify_url": receiver.url("epay"),
            "return_url": RETURN,
            "name": "Invoice #1001",
            "money": "36",
        }
        async with AsyncTestClient(app=create_app(settings)) as client:
            resp = await client.get(
                "/submit.php", params=signed(fields, MERCHANT_KEY), follow_redirects=False
            )
            assert resp.status_code == 302, resp.text
            order_id = query_of(resp.headers["location"])["orderId"]
            info = (await client.get("/api/cashier_info", params={"orderId": order_id})).json()["data"]
            # 36 CNY at 7.20 is 5 USDT, plus the order's unique fraction.
            assert info["chain"] == "eth" and Decimal(info["amount"]) == Decimal("5.000001")
            relay = f"/epay/return?pid={MERCHANT_PID}&out_trade_no=WHMCS-INV-1001"
            assert "sign" not in (await client.get(relay, follow_redirects=False)).headers["location"]

            tx = await devchain.pay(info["address"], units(info["amount"]))
            await devchain.mine(settings.eth.confirmations)
            await watch(settings, shop)

            ask = {"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "out_trade_no": "WHMCS-INV-1001"}
            answer = (await client.get("/api.php", params=ask)).json()
            assert (answer["status"], answer["api_trade_no"], answer["type"]) == (1, tx[2:], "usdt.erc20")
            assert answer["buyer"] == devchain.payer and answer["money"] == "36"
            back = await client.get(relay, follow_redirects=False)
        async with new_client(settings) as http:
            assert await Notifier(shop.sessions, settings, SystemClock(), http).round() == 1
        [got] = receiver.received
    assert got.signature_ok and got.acked and verify(got.fields, MERCHANT_KEY)
    assert got.fields["trade_no"] == order_id and got.fields["money"] == "36"
    assert got.fields["type"] == "usdt.erc20" and got.fields["trade_status"] == "TRADE_SUCCESS"
    assert back.headers["location"].startswith(RETURN + "?")
    assert query_of(back.headers["location"]) == got.fields
