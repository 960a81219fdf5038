"""What the cashier page shows for a seed 004 type 2 order: where and how to
send the exact amount at the payer's exchange, in Chinese and English.

The page gets it as `exchange` in /api/cashier_info next to the usual
`chain_label` (the platform), `address` (what to send to) and `amount`:
the exchange's name, the receiving account as that exchange's app asks a
sender for it (`to_label`: UID / email / phone / Pay ID / deposit
address), the steps of an internal transfer in that app, and which of the
exchange's identifiers "I have paid" takes (`ref_label`, `ref_hint`).
The app paths follow README "Exchange transfers"; an app may name a
button differently between versions, hence the older names in brackets.
"""

from __future__ import annotations

from typing import Any

from api.http.faces import common, usdt_exchange
from api.http.state import AppState
from engine.exchanges.ports import PLAT_OF
from engine.models import Order

NAMES = {"okx": ("欧易 OKX", "OKX"), "binance": ("币安 Binance", "Binance"), "htx": ("火币 HTX", "HTX")}

# How each app names the receiving account, by the kind of `pay_to` (recipient_kind).
TO_LABELS = {
    ("okx", "id"): ("收款方 UID", "Recipient UID"),
    ("binance", "id"): ("收款方币安 ID(Pay ID / UID)", "Recipient Binance ID (Pay ID / UID)"),
    ("htx", "id"): ("收款方 UID", "Recipient UID"),
    ("htx", "address"): ("火币 USDT 充币地址", "HTX USDT deposit address"),
}
TO_KIND_LABELS = {
    "email": ("收款方邮箱", "Recipient email"),
    "phone": ("收款方手机号", "Recipient phone number"),
    "address": ("收款地址", "Recipient address"),
    "id": ("收款方账户", "Recipient account"),
}

# The identifier "I have paid" takes (README "Supplement"), and a hint of what it looks like.
REFS = {
    "okx": ("欧易订单号", "OKX order number", "订单号(一串数字)", "the order number (digits)"),
    "binance": (
        "币安交易 ID",
        "Binance transaction ID",
        "交易 ID,如 Internal transfer 123… 或其中的数字",
        "the transaction ID, e.g. Internal transfer 123… or its number",
    ),
    "htx": (
        "火币交易 ID(TxID)",
        "HTX transaction ID (TxID)",
        "提币记录中的 TxID",
        "the TxID of the withdrawal record",
    ),
}

# {to} is what the payer sends to, {amount} the exact USDT amount, {by} what the app calls {to}.
STEPS = {
    "okx": {
        "zh": [
            "打开欧易 App:资产 → 发送(旧版为「提币」)→ USDT → 内部转账(免手续费,即时到账)",
            "{by}:{to}",
            "金额填写 {amount} USDT,一分不差",
            "转账后本页自动确认;如未确认,请在下方填写欧易的订单号",
        ],
        "en": [
            "In the OKX app: Assets → Send (Withdraw in older versions) → USDT → "
            "Internal transfer (free, instant)",
            "{by_en}: {to}",
            "Amount: exactly {amount} USDT",
            "This page confirms by itself; if it does not, enter the OKX order number below",
        ],
    },
    "binance": {
        "zh": [
            "打开币安 App:支付(Pay)→ 发送 → 发送给币安用户(免手续费,即时到账)",
            "{by}:{to}",
            "币种 USDT,金额填写 {amount},一分不差",
            "转账后本页自动确认;如未确认,请在下方填写币安的交易 ID",
        ],
        "en": [
            "In the Binance app: Pay → Send → Send to a Binance user (free, instant)",
            "{by_en}: {to}",
            "Currency USDT, amount exactly {amount}",
            "This page confirms by itself; if it does not, enter the Binance transaction ID below",
        ],
    },
    "htx": {
        "zh": [
            "打开火币 App:资产 → 提币 → USDT → {route}(火币账户之间免手续费)",
            "{by}:{to}",
            "金额填写 {amount} USDT,一分不差",
            "转账后本页自动确认;如未确认,请在下方填写提币记录中的交易 ID(TxID)",
        ],
        "en": [
            "In the HTX app: Assets → Withdraw → USDT → {route_en} (free between HTX accounts)",
            "{by_en}: {to}",
            "Amount: exactly {amount} USDT",
            "This page confirms by itself; if it does not, "
            "enter the transaction ID (TxID) of the withdrawal below",
        ],
    },
}
HTX_ROUTES = {"address": ("区块链地址提币", "Blockchain address withdrawal")}
HTX_ACCOUNT_ROUTE = ("火币账户转账", "HTX account transfer")


def recipient_kind(exchange: str, to: str) -> str:
    """How a sender enters `to` in the app: email, phone (+country code),
    id (digits: a UID or Binance Pay ID), else an HTX deposit address or an
    account name."""
    if "@" in to:
        return "email"
    if to.startswith("+") and to[1:].replace(" ", "").isdigit():
        return "phone"
    if to.isdigit():
        return "id"
    return "address" if exchange == "htx" else "id"


def to_label(exchange: str, kind: str) -> tuple[str, str]:
    return TO_LABELS.get((exchange, kind)) or TO_KIND_LABELS[kind]


def exchange_block(exchange: str, to: str, amount: str) -> dict[str, Any]:
    zh, en = NAMES[exchange]
    kind = recipient_kind(exchange, to)
    by_zh, by_en = to_label(exchange, kind)
    route_zh, route_en = HTX_ROUTES.get(kind, HTX_ACCOUNT_ROUTE)
    values = {
        "to": to,
        "amount": amount,
        "by": by_zh,
        "by_en": by_en,
        "route": route_zh,
        "route_en": route_en,
    }
    steps = {lang: [s.format(**values) for s in lines] for lang, lines in STEPS[exchange].items()}
    ref_zh, ref_en, where_zh, where_en = REFS[exchange]
    return {
        "plat": PLAT_OF[exchange],
        "name": {"zh": zh, "en": en},
        "pay_to": to,
        "to_kind": kind,
        "to_label": {"zh": by_zh, "en": by_en},
        "steps": steps,
        "ref_label": {"zh": ref_zh, "en": ref_en},
        "ref_hint": {"zh": where_zh, "en": where_en},
    }


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
