"""What /schema says about the usdt face (seed 004): request fields with
their meaning and the seed's examples, the real answers and the errors.

Kept apart from api.http.faces.usdt so the face stays about the wire and
this module about its description.
"""

from __future__ import annotations

from typing import Any

from api.http.faces import openapi_doc as doc

SIGNATURE_NOTE = (
    "Signed with the usdt face's MD5 rule (see *Signatures* at the top of this page): every field "
    "except `signature` that is not null or empty, sorted by name, `k=v` joined with `&`, then "
    "`&key=<merchant signing key>`; MD5, upper-case hex."
)

ERRORS = {
    400: "Reserved by the framework for an unreadable request; usdtpay answers bad input with 422.",
    403: "`pid` missing or unknown, `signature` missing or wrong.",
    404: "No such order for this merchant.",
    409: "`order_no` already used with different parameters (same parameters: the original order).",
    413: "The body is larger than allowed.",
    415: "The body is not JSON or a form (send `Content-Type: application/json`).",
    422: "A field is missing, malformed, out of range (e.g. amount too large), or a business rule refuses.",
    429: "Too many requests from this address or merchant; back off and retry.",
    503: "No fresh CNY/USDT rate (CNY orders) or the chain node is unreachable; retry later.",
}

ERROR = doc.obj(
    {
        "code": doc.integer("the HTTP status again (seed 004's error codes)", example=422),
        "msg": doc.string("what is wrong and what to do", example="amount is required"),
        "data": doc.nullable(doc.obj({"reason": doc.string("supplement only: the failed check")})),
    },
    required=("code", "msg", "data"),
)
ERROR_EXAMPLE = {"code": 403, "msg": "signature is missing: sign the request (see Signatures)", "data": None}


def _error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": None}


EXAMPLES = {
    403: _error(403, "signature is missing: sign the request (see Signatures)"),
    404: _error(404, "merchant 10001 has no order '20240101000001'"),
    409: _error(409, "order_no 20240101000001 exists with different parameters; use a new order_no"),
    413: _error(413, "the request body is larger than 65536 bytes"),
    415: _error(415, "the body is JSON but Content-Type is text/plain; send Content-Type: application/json"),
    422: _error(422, "amount 2000000 USDT is too large: at most 1000000 USDT per order"),
    429: _error(429, "too many requests; slow down and retry with exponential backoff"),
    503: _error(503, "no current CNY/USDT rate; retry in a minute"),
}


def _envelope(data: doc.Schema) -> doc.Schema:
    return doc.obj(
        {
            "code": doc.integer("200 on success", example=200),
            "msg": doc.string(example="success"),
            "data": data,
        },
        required=("code", "msg", "data"),
    )


PID = doc.string(
    "商户ID: the merchant id given by `usdtpay merchant add --pid`", max_length=32, example="10001"
)
ORDER_NO = doc.string(
    "商户订单号: the merchant's own order number, unique per merchant (ASCII letters, digits, - and _)",
    max_length=64,
    example="20240101000001",
)
SIGNATURE = doc.string(
    "签名: MD5 of the sorted fields and the key, upper-case hex", example="D9BB7783FA0AD06DBD3E0EA71E56F3B0"
)

CREATE_BODY = doc.obj(
    {
        "pid": PID,
        "chain_type": doc.integer(
            "支付链类型: 1 = TRON (TRC20), 2 = Ethereum (ERC20)", enum=(1, 2), example=1
        ),
        "order_no": ORDER_NO,
        "amount": doc.one_of(
            doc.string(example="100.00"),
            doc.number(),
            description="订单金额 in `currency`: CNY with at most 2 decimals, USDT with at most 6; "
            "send it as a string (or a JSON number, kept as its text, never a float)",
        ),
        "currency": doc.string(
            "货币类型: CNY (converted at the current rate, rounded up) or USDT (paid as is); default CNY",
            enum=("CNY", "USDT"),
            example="CNY",
        ),
        "type": doc.integer(
            "支付类型: 1 = on-chain transfer (default); 2 = exchange internal transfer (needs `plat`)",
            enum=(1, 2),
            example=1,
        ),
        "plat": doc.string(
            "内部转账平台, only with type 2: OKX, BINANCE or HTX (LINK means on chain)", example="OKX"
        ),
        "scanpay": doc.integer(
            "返回类型: 1 (default) = answer the address and amount to pay; 0 = answer only the cashier URL",
            enum=(0, 1),
            example=1,
        ),
        "notify_url": doc.string(
            "异步通知地址: where usdtpay POSTs the signed paid notification (public http(s) URL)",
            max_length=1024,
            example="https://example.com/notify",
        ),
        "return_url": doc.string(
            "同步返回地址: where the cashier page sends the payer after paying",
            max_length=1024,
            example="https://example.com/return",
        ),
        "param": doc.one_of(
            doc.string(),
            doc.obj({}),
            description="用户自定义数据: returned untouched in the notification (an object as compact JSON)",
        ),
        "signature": SIGNATURE,
    },
    required=("pid", "chain_type", "order_no", "amount", "signature"),
)
CREATE_EXAMPLE: dict[str, Any] = {
    "pid": "10001",
    "chain_type": 1,
    "order_no": "20240101000001",
    "amount": "100.00",
    "type": 1,
    "currency": "CNY",
    "scanpay": 1,
    "notify_url": "https://example.com/notify",
    "return_url": "https://example.com/return",
    "param": '{"user_id": "123"}',
    "signature": "D9BB7783FA0AD06DBD3E0EA71E56F3B0",
}
CREATED = _envelope(
    doc.one_of(
        doc.obj(
            {
                "plat_order_no": doc.string("平台订单ID: usdtpay's order number", example="4503599627370501"),
                "u_addr": doc.string("平台收款钱包地址: the address to pay to"),
                "u_type": doc.string(
                    "收款钱包类型: TRC20 / ERC20 on chain; OKX / BINANCE / HTX for type 2 (u_addr is then "
                    "the receiving account at that exchange)",
                    enum=("TRC20", "ERC20", "OKX", "BINANCE", "HTX"),
                ),
                "amount": doc.string(
                    "the exact USDT amount to send: the price plus a unique fraction that identifies "
                    "the order",
                    example="13.890001",
                ),
                "expire_time": doc.integer("支付过期时间戳 (Unix seconds)", example=1704069000),
            },
            required=("plat_order_no", "u_addr", "u_type", "amount", "expire_time"),
            description="scanpay = 1",
        ),
        doc.obj(
            {
                "url": doc.string("the cashier page for this order"),
                "plat_order_no": doc.string("平台订单ID"),
            },
            required=("url", "plat_order_no"),
            description="scanpay = 0",
        ),
    )
)
CREATED_EXAMPLE = {
    "code": 200,
    "msg": "success",
    "data": {
        "plat_order_no": "4503599627370501",
        "u_addr": "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC",
        "u_type": "TRC20",
        "amount": "13.890001",
        "expire_time": 1704069000,
    },
}

ORDER = _envelope(
    doc.obj(
        {
            "plat_order_no": doc.string("平台订单ID"),
            "order_no": doc.string("商户订单号"),
            "amount": doc.string("the USDT amount to pay (with the unique fraction)", example="13.890001"),
            "status": doc.string("订单状态", enum=("pending", "paid", "failed", "expired")),
            "u_type": doc.string("支付方式", enum=("TRC20", "ERC20", "OKX", "BINANCE", "HTX")),
            "paytime": doc.integer("支付时间戳 (Unix seconds); 0 while unpaid", example=1704067300),
            "createtime": doc.integer("创建时间戳 (Unix seconds)", example=1704067200),
        },
        required=("plat_order_no", "order_no", "amount", "status", "u_type", "paytime", "createtime"),
    )
)
ORDER_EXAMPLE = {
    "code": 200,
    "msg": "success",
    "data": {
        "plat_order_no": "4503599627370501",
        "order_no": "20240101000001",
        "amount": "13.890001",
        "status": "paid",
        "u_type": "TRC20",
        "paytime": 1704067300,
        "createtime": 1704067200,
    },
}

SUPPLEMENT_BODY = doc.obj(
    {
        "pid": PID,
        "order_no": ORDER_NO,
        "hash": doc.string(
            "交易哈希值: the transaction hash of the payment (TRON: 64 hex, Ethereum: 0x + 64 hex)",
            max_length=80,
            example="0x3ebc59510baaa6861e980af93af101870357d14847edd621949d57aa9f450e5e",
        ),
        "p_addr": doc.string(
            "付款钱包地址: the payer's address; when given it must be the sender",
            max_length=80,
            example="0x8da7822a53485ec2ba50db89375c75faeb8dff14",
        ),
        "signature": SIGNATURE,
    },
    required=("pid", "order_no", "hash", "signature"),
)
SUPPLEMENT_EXAMPLE = {
    "pid": "10001",
    "order_no": "20240101000001",
    "p_addr": "0x8da7822a53485ec2ba50db89375c75faeb8dff14",
    "hash": "0x3ebc59510baaa6861e980af93af101870357d14847edd621949d57aa9f450e5e",
    "signature": "D9BB7783FA0AD06DBD3E0EA71E56F3B0",
}
SUPPLEMENT_REJECTED = {
    "code": 422,
    "msg": "the transfer sends 13.000000 USDT; the order asks for 13.890001",
    "data": {"reason": "amount_differs"},
}


def create_doc() -> type[doc.Operation]:
    return doc.documented(
        body=CREATE_BODY,
        body_example=CREATE_EXAMPLE,
        form=True,
        answer=CREATED,
        answer_example=CREATED_EXAMPLE,
        error=ERROR,
        error_example=ERROR_EXAMPLE,
        error_statuses=(403, 409, 413, 415, 422, 429, 503),
        error_meanings=ERRORS,
        error_examples=EXAMPLES,
    )


def query_doc() -> type[doc.Operation]:
    return doc.documented(
        parameters=[
            doc.query("pid", PID),
            doc.query("order_no", ORDER_NO),
            doc.query("signature", SIGNATURE, description="sign pid and order_no"),
        ],
        answer=ORDER,
        answer_example=ORDER_EXAMPLE,
        error=ERROR,
        error_example={"code": 404, "msg": "merchant 10001 has no order 'x1'", "data": None},
        error_statuses=(403, 404, 422, 429),
        error_meanings=ERRORS,
        error_examples=EXAMPLES,
    )


def supplement_doc() -> type[doc.Operation]:
    return doc.documented(
        body=SUPPLEMENT_BODY,
        body_example=SUPPLEMENT_EXAMPLE,
        form=True,
        answer=ORDER,
        answer_example=ORDER_EXAMPLE,
        error=ERROR,
        error_example=EXAMPLES[403],
        error_statuses=(403, 404, 413, 415, 422, 429, 503),
        error_meanings=ERRORS,
        error_examples={**EXAMPLES, 422: SUPPLEMENT_REJECTED},
    )
