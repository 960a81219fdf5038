"""What the payer reads, in Chinese and in English.

The cashier page is for payers, who are mostly Chinese readers: every text
the server sends it comes in both languages (`msg_zh`, `msg_en`), with
Chinese punctuation in the Chinese one. Engine errors carry English text
for merchants and operators; here they become the payer's two sentences,
chosen by the error's stable code, with the engine's English as the
fallback for a code that has no sentence of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UsdtPayError

CHAIN_NAME = {"tron": ("TRON(TRC20)", "TRON (TRC20)"), "eth": ("以太坊(ERC20)", "Ethereum (ERC20)")}


@dataclass(frozen=True)
class Said:
    """One message in both languages, with its stable code."""

    code: str
    zh: str
    en: str

    def fields(self) -> dict[str, str]:
        return {"code": self.code, "msg": self.en, "msg_zh": self.zh, "msg_en": self.en}


class Refused(Exception):
    """'I have paid' refused: what the payer reads, and the HTTP status."""

    def __init__(self, said: Said, status: int) -> None:
        super().__init__(said.en)
        self.said, self.status = said, status


# code → (zh, en); {names} are filled from the details of the case.
TEXTS: dict[str, tuple[str, str]] = {
    "not_found": (
        "找不到该订单,请核对订单号或回到商户页面重新下单。",
        "No such order; check the order number or start again at the shop.",
    ),
    "bad_hash": (
        "这不是有效的交易哈希。请粘贴钱包或区块浏览器中显示的完整交易哈希(64 位十六进制字符)。",
        "That is not a transaction hash. Paste the whole hash your wallet or "
        "the block explorer shows (64 hexadecimal characters).",
    ),
    "too_many_requests": ("查询过于频繁,请一分钟后再试。", "Too many checks; please try again in a minute."),
    "upstream_error": (
        "暂时无法查询区块链节点,请稍后再试。",
        "The blockchain node could not be asked just now; please try again shortly.",
    ),
    "unavailable": (
        "服务暂时不可用,请稍后再试。",
        "The service is not available just now; please try again shortly.",
    ),
    "tx_not_found": (
        "{chain} 网络上找不到这笔交易。请检查交易哈希是否完整,以及是否在 {chain} 网络上转账。",
        "The {chain_en} network does not know this transaction. Check that "
        "the hash is complete and that you paid on {chain_en}.",
    ),
    "tx_not_final": (
        "这笔转账尚未最终确认({n} / {needed}),请稍候,确认后本页会自动显示支付成功。",
        "Not final yet ({n} / {needed}); please wait, this page turns to paid by itself once it is final.",
    ),
    "tx_pending": (
        "这笔交易尚未打包进区块,请稍候再试。",
        "The transaction is not in a block yet; please wait and try again.",
    ),
    "tx_failed": (
        "这笔交易在链上执行失败,没有转出任何 USDT。",
        "The transaction failed on chain; no USDT was transferred.",
    ),
    "wrong_token": (
        "这笔交易转出的不是 USDT。请用 USDT 付款。",
        "This transaction moves no USDT; please pay in USDT.",
    ),
    "wrong_recipient": (
        "这笔转账的收款地址是 {to},不是本订单的收款地址。这笔款项不会计入本订单。",
        "This transfer went to another address ({to}), not to this "
        "order's address; it does not count for this order.",
    ),
    "amount_differs": (
        "这笔转账金额为 {sent} USDT,本订单需要 {needed} USDT。{advice_zh}",
        "This transfer sent {sent} USDT; the order needs {needed} USDT. {advice_en}",
    ),
    "payer_differs": (
        "这笔转账不是从您填写的地址发出的。",
        "This transfer was not sent from the address you gave.",
    ),
    "tx_too_early": (
        "这笔转账早于订单创建时间,不能用于支付本订单。",
        "This transfer was made before the order was created; it cannot pay this order.",
    ),
    "tx_too_late": (
        "这笔转账晚于订单的付款期限,无法自动入账。请联系商户并提供交易哈希。",
        "This transfer came after the order's payment deadline and cannot be credited "
        "automatically; contact the merchant with the transaction hash.",
    ),
    "hash_used": (
        "这笔交易已用于支付另一个订单,一笔转账只能支付一个订单。",
        "This transaction already paid another order; one transfer pays one order.",
    ),
    "order_closed": ("订单已关闭,无法再支付。", "The order is closed and can no longer be paid."),
    "not_on_chain": ("请先选择 USDT 支付方式。", "Choose USDT as the way to pay first."),
    "amounts_exhausted": (
        "该收款方式暂时没有可用的付款金额,请稍后再试或更换支付方式。",
        "No payment amount is free on this method just now; please try again later or pick another method.",
    ),
    "bad_input": (
        "请求有误,请刷新页面后重试。",
        "The request was not understood; reload the page and try again.",
    ),
    "forbidden": ("无权进行此操作。", "This is not allowed."),
    # "I have paid" for an exchange order (api.http.faces.payer_exchange):
    # {name} the exchange, {ref} the identifier the payer entered, as the page names it.
    "exchange_bad_reference": (
        "这不是有效的{ref}。请从{name}的转账记录中复制完整的{ref}。",
        "That is not a valid {ref_en}. Copy the whole {ref_en} from the transfer's record at {name_en}.",
    ),
    "exchange_record_not_found": (
        "{name}的收款账户没有这个{ref}对应的入账记录。请核对{ref},并确认是转给本页显示的收款方。",
        "The receiving {name_en} account has no incoming transfer with this {ref_en}. Check the "
        "{ref_en} and that you sent to the recipient this page shows.",
    ),
    "exchange_wrong_currency": (
        "这笔{name}转账的币种不是 USDT。请用 USDT 付款。",
        "This {name_en} transfer is not in USDT; please pay in USDT.",
    ),
    "exchange_record_not_final": (
        "{name}尚未将这笔转账入账,请稍候,入账后本页会自动显示支付成功。",
        "{name_en} has not credited this transfer yet; please wait, this page turns to paid by itself.",
    ),
    "exchange_amount_differs": (
        "这笔{name}转账的金额与订单不符,本订单需要 {needed} USDT。差额不能补转;请联系商户并提供{ref}。",
        "This {name_en} transfer is not the order's amount ({needed} USDT). Do not send a difference; "
        "contact the merchant with the {ref_en}.",
    ),
    "exchange_tx_too_early": (
        "这笔{name}转账早于订单创建时间,不能用于支付本订单。",
        "This {name_en} transfer was made before the order was created; it cannot pay this order.",
    ),
    "exchange_tx_too_late": (
        "这笔{name}转账晚于订单的付款期限,无法自动入账。请联系商户并提供{ref}。",
        "This {name_en} transfer came after the order's payment deadline and cannot be credited "
        "automatically; contact the merchant with the {ref_en}.",
    ),
    "exchange_hash_used": (
        "这笔{name}转账已用于支付另一个订单,一笔转账只能支付一个订单。",
        "This {name_en} transfer already paid another order; one transfer pays one order.",
    ),
    "exchange_account_unknown": (
        "商户已不再使用这个{name}收款账户,请联系商户。",
        "The merchant no longer receives at this {name_en} account; please contact the merchant.",
    ),
    "exchange_unreachable": (
        "暂时无法向{name}查询,请稍后再试。",
        "{name_en} could not be asked just now; please try again shortly.",
    ),
}

UNDERPAID_ADVICE = (
    "差额不能再补转(补转的金额无法匹配订单)。请联系商户并提供交易哈希。",
    "Do not send the difference (a second transfer cannot be matched to the "
    "order); contact the merchant with the transaction hash.",
)
OVERPAID_ADVICE = (
    "多付的金额不会自动退回。请联系商户并提供交易哈希,商户可为您入账或退款。",
    "The extra is not returned by itself; contact the merchant with the "
    "transaction hash, who can credit the order or refund you.",
)


def say(code: str, fallback_en: str = "", **details: object) -> Said:
    zh, en = TEXTS.get(
        code, ("出现错误,请稍后重试。", fallback_en or "Something went wrong; please try again.")
    )
    if code not in TEXTS and fallback_en:
        zh = f"出现错误:{fallback_en}"
    values = {k: str(v) for k, v in details.items()}
    return Said(code, zh.format_map(_Blank(values)), en.format_map(_Blank(values)))


def said_for_error(exc: UsdtPayError) -> Said:
    """An engine error as the payer reads it."""
    return say(exc.code, exc.message)


def chain_names(chain: str) -> dict[str, str]:
    zh, en = CHAIN_NAME.get(chain, (chain, chain))
    return {"chain": zh, "chain_en": en}


def advice(reason: str) -> dict[str, str]:
    zh, en = UNDERPAID_ADVICE if reason == "underpaid" else OVERPAID_ADVICE
    return {"advice_zh": zh, "advice_en": en}


class _Blank(dict[str, str]):
    """format_map values; a name a case did not fill reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""
