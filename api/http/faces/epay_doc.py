"""OpenAPI for the epay face: EPay V1's parameters, answers and errors.

Built on openapi_doc's schema helpers; submit.php and the return relay
answer with redirects (and HTML error pages), which `documented` (JSON
answers) does not cover, so their Operations are written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Parameter,
    Reference,
    RequestBody,
)

from api.http.faces import openapi_doc as doc

S = doc.string
SIGN_NOTE = (
    "`sign`: lower-case MD5 of the fields other than sign and sign_type, empty ones left out, "
    "sorted by name (ASCII), joined as k=v with &, values not URL-encoded, the merchant key "
    "appended directly (USDTPAY_EPAY__SIGN_MODE=key: `&key=<key>` appended). Every field sent "
    "counts, unknown ones included."
)
TYPES = ("alipay", "wxpay", "usdt", "usdt.trc20", "trc20", "usdt.erc20", "erc20")
CREATE_FIELDS: dict[str, doc.Schema] = {
    "pid": S("商户ID: the merchant pid (usdtpay merchant add)", example="10001"),
    "type": S(
        "支付方式: alipay, wxpay, usdt (chain per USDTPAY_EPAY__USDT_CHAIN), usdt.trc20 / trc20, "
        "usdt.erc20 / erc20; empty or anything else: the payer picks at the cashier",
        max_length=32,
    ),
    "out_trade_no": S("商户订单号: letters, digits, . _ - |", min_length=1, max_length=64),
    "notify_url": S("异步通知地址 (GET, answer `success`)", min_length=1, max_length=1024),
    "return_url": S("跳转通知地址: the browser returns here, signed, after payment", max_length=1024),
    "name": S("商品名称", min_length=1, max_length=256),
    "money": S("金额 (CNY yuan, at most 2 decimals), signed as sent", example="1.00"),
    "param": S("业务扩展参数, returned untouched", max_length=4096),
    "sitename": S("网站名称 (signed, not used)"),
    "sign": S(SIGN_NOTE, min_length=32, max_length=32),
    "sign_type": S("签名类型", enum=("MD5",)),
}
MAPI_FIELDS = {
    **CREATE_FIELDS,
    "clientip": S("用户IP (the payer's address, for WeChat H5)"),
    "device": S(
        "设备类型: pc (qrcode), mobile (payurl), alipay / wechat / qq (in-app browsers)",
        enum=("pc", "mobile", "qq", "wechat", "alipay"),
    ),
}
CREATE_REQUIRED = ("pid", "out_trade_no", "notify_url", "name", "money", "sign")
CREATE_EXAMPLE = {
    "pid": "10001",
    "type": "alipay",
    "out_trade_no": "20240101000001",
    "notify_url": "https://shop.example/notify",
    "return_url": "https://shop.example/return",
    "name": "VIP会员",
    "money": "1.00",
    "sign": "d41d8cd98f00b204e9800998ecf8427e",
    "sign_type": "MD5",
}
ERROR = doc.obj({"code": doc.integer("< 0", example=-1), "msg": S()}, required=("code", "msg"))
ERROR_EXAMPLE = {"code": -2, "msg": "签名校验失败 (bad sign: see the README's EPay-compatible shops section)"}
HTML = "text/html"


def _query_params(fields: dict[str, doc.Schema], required: tuple[str, ...]) -> list[Parameter]:
    return [doc.query(name, schema, required=name in required) for name, schema in fields.items()]


def _form(fields: dict[str, doc.Schema], required: tuple[str, ...], example: dict[str, Any]) -> RequestBody:
    schema = doc.obj(fields, required=required)
    return RequestBody(
        content={
            doc.FORM: OpenAPIMediaType(
                schema=schema, examples={"epay": Example(summary="EPay V1", value=example)}
            ),
            doc.JSON: OpenAPIMediaType(schema=schema),
        },
        required=True,
    )


def _redirect(description: str) -> dict[str, OpenAPIResponse | Reference]:
    location = OpenAPIHeader(schema=S("where the browser goes"), required=True)
    error = OpenAPIResponse(
        description="An HTML page saying what is wrong",
        content={HTML: OpenAPIMediaType(schema=S("HTML"))},
    )
    answers: dict[str, OpenAPIResponse | Reference] = {
        "302": OpenAPIResponse(description=description, headers={"Location": location})
    }
    return answers | {str(status): error for status in (400, 403, 404, 409, 422, 429)}


def submit(*, form: bool) -> type[doc.Operation]:
    @dataclass
    class SubmitOperation(doc.Operation):
        def __post_init__(self) -> None:
            if form:
                self.request_body = _form(CREATE_FIELDS, CREATE_REQUIRED, CREATE_EXAMPLE)
            else:
                self.parameters = list[Parameter | Reference](_query_params(CREATE_FIELDS, CREATE_REQUIRED))
            self.description = (
                "Creates the order (a repeat with the same parameters is the same order; other "
                "parameters are refused) and sends the browser to /cashier.html. " + SIGN_NOTE
            )
            self.responses = _redirect("To the cashier page")

    return SubmitOperation


MAPI_ANSWER = doc.obj(
    {
        "code": doc.integer("1 = ok", enum=(1,)),
        "msg": S(),
        "trade_no": S("usdtpay's order number (the other faces' order id)"),
        "payurl": S("a page to open: the cashier page, or the channel's pay URL"),
        "qrcode": S("text to show as a QR code (device pc)"),
        "urlscheme": S("an app link (alipays://, weixin://)"),
    },
    required=("code", "msg", "trade_no"),
)
MAPI = doc.documented(
    body=doc.obj(MAPI_FIELDS, required=CREATE_REQUIRED),
    body_example=CREATE_EXAMPLE | {"device": "pc", "clientip": "203.0.113.7"},
    form=True,
    answer=doc.one_of(MAPI_ANSWER, ERROR, description="EPay answers errors with HTTP 200 too"),
    answer_example={
        "code": 1,
        "msg": "success",
        "trade_no": "1738155990123456",
        "qrcode": "https://qr.alipay.com/bax01234",
    },
    error=ERROR,
    error_example=ERROR_EXAMPLE,
    error_statuses=(),
)

QUERY_FIELDS: dict[str, doc.Schema] = {
    "act": S("操作类型", enum=("order",)),
    "pid": S("商户ID", example="10001"),
    "key": S("商户密钥 (the raw key, as EPay clients send it); or send sign instead"),
    "out_trade_no": S("商户订单号 (or trade_no)", max_length=64),
    "trade_no": S("usdtpay's order number (or out_trade_no)"),
    "sign": S("instead of key: " + SIGN_NOTE),
    "sign_type": S("签名类型", enum=("MD5",)),
}
QUERY_ANSWER = doc.obj(
    {
        "code": doc.integer("1 = found", enum=(1,)),
        "msg": S(),
        "trade_no": S(),
        "out_trade_no": S(),
        "api_trade_no": S("the channel's trade number or the transaction hash"),
        "type": S("支付方式 (after payment: what paid it)"),
        "pid": S(),
        "addtime": S("YYYY-MM-DD HH:MM:SS (settings.timezone)"),
        "endtime": doc.nullable(S("paid at; null while unpaid")),
        "name": S(),
        "money": S("as the merchant sent it"),
        "status": doc.integer("1 已支付, 0 未支付", enum=(0, 1)),
        "param": S(),
        "buyer": S("the payer's address (USDT)"),
    },
    required=("code", "msg", "trade_no", "out_trade_no", "type", "pid", "addtime", "name", "money", "status"),
)
QUERY_EXAMPLE = {
    "code": 1,
    "msg": "查询订单号成功！",
    "trade_no": "1738155990123456",
    "out_trade_no": "20240101000001",
    "api_trade_no": "2024010122001400001234567890",
    "type": "alipay",
    "pid": "10001",
    "addtime": "2024-01-01 12:00:00",
    "endtime": "2024-01-01 12:01:05",
    "name": "VIP会员",
    "money": "1.00",
    "status": 1,
    "param": "",
    "buyer": "",
}
QUERY_SUMMARY = "EPay order query (EPay V1 api.php?act=order)"
QUERY_DESCRIPTION = (
    "Errors: code -3 unknown pid, -2 bad key or sign, -1 no such order, -5 act is not order. "
    "The key is never echoed."
)
_query_doc: dict[str, Any] = {
    "answer": doc.one_of(QUERY_ANSWER, ERROR, description="EPay answers errors with HTTP 200 too"),
    "answer_example": QUERY_EXAMPLE,
    "error": ERROR,
    "error_example": {"code": -1, "msg": "订单号不存在 (no such order for this pid)"},
    "error_statuses": (),
}
QUERY = doc.documented(parameters=_query_params(QUERY_FIELDS, ("act", "pid")), **_query_doc)
QUERY_POST = doc.documented(
    body=doc.obj(QUERY_FIELDS, required=("act", "pid")),
    body_example={"act": "order", "pid": "10001", "key": "<merchant key>", "out_trade_no": "20240101000001"},
    form=True,
    **_query_doc,
)


@dataclass
class ReturnOperation(doc.Operation):
    def __post_init__(self) -> None:
        self.parameters = [
            doc.query("pid", S("商户ID")),
            doc.query("out_trade_no", S("商户订单号", max_length=64)),
        ]
        self.description = (
            "The return URL usdtpay gives the cashier page and the channels for EPay orders. Paid: "
            "302 to the merchant's return_url with pid, trade_no, out_trade_no, type, name, money, "
            "trade_status=TRADE_SUCCESS, param, sign, sign_type (the notification's fields). "
            "Not paid: 302 to the cashier page, never signed."
        )
        self.responses = _redirect("To the merchant (paid) or the cashier page (not yet)")


RETURN = ReturnOperation
