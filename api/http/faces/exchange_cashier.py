"""What the cashier page shows for a seed 004 type 2 order: where and how to
send the exact amount at the payer's exchange, in Chinese and English.

The page gets it as `exchange` in /api/cashier_info next to the usual
`chain_label` (the platform), `address` (what to send to) and `amount`.
"""

from __future__ import annotations

from typing import Any

from api.http.faces import common, usdt_exchange
from api.http.state import AppState
from engine.exchanges.ports import PLAT_OF
from engine.models import Order

NAMES = {"okx": ("欧易 OKX", "OKX"), "binance": ("币安 Binance", "Binance"), "htx": ("火币 HTX", "HTX")}
# {to} is what the payer sends to, {amount} the exact USDT amount.
STEPS = {
    "okx": {
        "zh": [
            "打开欧易 App:资产 → 提币 → USDT → 内部转账(免手续费,即时到账)",
            "收款方填写 {to}(UID / 邮箱 / 手机号)",
            "金额填写 {amount} USDT,必须一分不差",
            "转账后本页自动确认;如未确认,请把欧易的订单号和参考编号发给商户补单",
        ],
        "en": [
            "In the OKX app: Assets → Withdraw → USDT → Internal transfer (free, instant)",
            "Recipient: {to} (UID / email / phone)",
            "Amount: exactly {amount} USDT",
            "This page confirms by itself; if not, give the merchant the OKX order and reference numbers",
        ],
    },
    "binance": {
        "zh": [
            "打开币安 App:资金 → 发送 → 发送给币安用户(Binance Pay,免手续费)",
            "收款方填写 {to}(币安 ID / 邮箱 / 手机号)",
            "币种 USDT,金额填写 {amount},必须一分不差",
            "转账后本页自动确认;如未确认,请把币安的交易 ID 发给商户补单",
        ],
        "en": [
            "In the Binance app: Funds → Send → Send to a Binance user (Binance Pay, free)",
            "Recipient: {to} (Binance ID / email / phone)",
            "Currency USDT, amount exactly {amount}",
            "This page confirms by itself; if it does not, give the merchant the Binance transaction ID",
        ],
    },
    "htx": {
        "zh": [
            "打开火币 App:资产 → 提币 → USDT",
            "地址填写 {to}(火币站内地址,站内转账免手续费)",
            "金额填写 {amount} USDT,必须一分不差",
            "转账后本页自动确认;如未确认,请把提币记录里的区块链交易 ID 发给商户补单",
        ],
        "en": [
            "In the HTX app: Assets → Withdraw → USDT",
            "Address: {to} (an HTX address: transfers inside HTX are free)",
            "Amount: exactly {amount} USDT",
            "This page confirms by itself; if not, give the merchant the withdrawal's blockchain tx ID",
        ],
    },
}


def exchange_block(exchange: str, to: str, amount: str) -> dict[str, Any]:
    zh, en = NAMES[exchange]
    steps = {lang: [s.format(to=to, amount=amount) for s in lines] for lang, lines in STEPS[exchange].items()}
    return {"plat": PLAT_OF[exchange], "name": {"zh": zh, "en": en}, "pay_to": to, "steps": steps}


async def fields(state: AppState, order: Order) -> dict[str, Any]:
    assert order.chain is not None
    to = await usdt_exchange.receiver(state, order)
    amount = common.usdt_amount(order)
    return {
        "chain": order.chain,
        "chain_label": PLAT_OF[order.chain],
        "address": to,
        "amount": amount,
        "exchange": exchange_block(order.chain, to, amount),
    }
