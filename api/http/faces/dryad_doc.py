"""The dryad face's OpenAPI documents (seed 002): request bodies, answers
and the seed's examples, for /schema."""

from __future__ import annotations

from api.http.faces import openapi_doc as doc

MAX_FEN = 10**12
OK_MSG = "操作成功"

CREATE_BODY = doc.obj(
    {
        "bizOrderId": doc.string("业务订单号(唯一标识)", min_length=1, max_length=64),
        "amount": doc.integer("支付金额(单位:分)", minimum=1, maximum=MAX_FEN),
        "subject": doc.string("订单标题", min_length=1, max_length=256),
        "description": doc.string("订单描述", max_length=512),
        "callbackUrl": doc.string("业务回调地址", min_length=1, max_length=1024),
    },
    required=("bizOrderId", "amount", "subject", "callbackUrl"),
)
ERROR = doc.obj({"code": doc.integer(), "msg": doc.string(), "data": doc.null()})
ERROR_EXAMPLE = {"code": 500, "msg": "支付创建失败: 微信下单失败", "data": None}


def envelope_of(data: doc.Schema) -> doc.Schema:
    fields = {"code": doc.integer(), "msg": doc.string(), "data": data}
    return doc.obj(fields, required=("code", "msg", "data"))


CREATED = envelope_of(
    doc.obj(
        {
            "orderId": doc.integer("支付订单ID"),
            "transactionId": doc.integer("交易流水ID"),
            "status": doc.string(enum=("PENDING",)),
            "qrBase64": doc.string("data:image/png;base64,..."),
            "expireAt": doc.string("YYYY-MM-DD HH:MM:SS"),
        },
        required=("orderId", "transactionId", "status", "qrBase64", "expireAt"),
    )
)


def create(biz_order_id: str) -> type[doc.Operation]:
    return doc.documented(
        body=CREATE_BODY,
        body_example={
            "bizOrderId": biz_order_id,
            "amount": 10000,
            "subject": "商品订单支付",
            "description": "购买商品A×1",
            "callbackUrl": "https://your-domain.com/notify",
        },
        answer=CREATED,
        answer_example={
            "code": 200,
            "msg": OK_MSG,
            "data": {
                "orderId": 1234567890,
                "transactionId": 9876543210,
                "status": "PENDING",
                "qrBase64": "data:image/png;base64,...",
                "expireAt": "2025-11-23 14:00:00",
            },
        },
        error=ERROR,
        error_example=ERROR_EXAMPLE,
        error_statuses=(400, 403, 500),
    )


S, Int = doc.string, doc.integer
ORDER_EXAMPLE = {
    "id": 1234567890,
    "bizOrderId": "ORDER20251123001",
    "amount": 10000,
    "currency": "CNY",
    "channel": "WECHAT",
    "status": "SUCCEEDED",
    "subject": "商品订单支付",
    "channelTradeNo": "4200001234567890",
    "paidAt": "2025-11-23 12:30:00",
    "expireAt": "2025-11-23 14:00:00",
    "createdAt": "2025-11-23 12:00:00",
}


GET_ORDER = doc.documented(
    answer=envelope_of(
        doc.obj(
            {
                "id": Int(),
                "bizOrderId": S(),
                "amount": Int("金额(分)"),
                "currency": S(),
                "channel": doc.nullable(S()),
                "status": S(enum=("INIT", "PENDING", "SUCCEEDED", "FAILED", "CANCELED", "EXPIRED")),
                "subject": S(),
                "channelTradeNo": doc.nullable(
                    S("渠道交易号; a fiat trade number only for the order's merchant (X-Api-Key)")
                ),
                "paidAt": doc.nullable(S()),
                "expireAt": S(),
                "createdAt": S(),
            }
        )
    ),
    answer_example={"code": 200, "msg": OK_MSG, "data": ORDER_EXAMPLE},
    error=ERROR,
    error_example={"code": 404, "msg": "no order 1234567890; check the order number", "data": None},
)
LATEST_TRANSACTION = doc.documented(
    answer=envelope_of(
        doc.obj(
            {
                "id": doc.nullable(Int("交易流水ID; null unless the order's merchant asks (X-Api-Key)")),
                "orderId": Int(),
                "channel": S(),
                "clientType": S(),
                "status": S(),
                "qrBase64": S(),
                "createdAt": S(),
            }
        )
    ),
    answer_example={
        "code": 200,
        "msg": OK_MSG,
        "data": {
            "id": 9876543210,
            "orderId": 1234567890,
            "channel": "WECHAT",
            "clientType": "NATIVE",
            "status": "PENDING",
            "qrBase64": "...",
            "createdAt": "2025-11-23 12:00:00",
        },
    },
    error=ERROR,
    error_example={"code": 404, "msg": "order 1234567890 has no transaction yet", "data": None},
)
HEALTH = doc.documented(
    answer=envelope_of(
        doc.obj(
            {
                "status": S(enum=("UP", "DOWN", "DEGRADED")),
                "service": S(),
                "time": S(),
                "message": S(),
                "database": doc.obj({"status": S()}),
                "watchers": doc.obj({"status": S()}),
                "rate": doc.obj({"status": S()}),
            },
            required=("status", "service", "time", "message"),
        )
    ),
    answer_example={
        "code": 200,
        "msg": OK_MSG,
        "data": {
            "status": "UP",
            "service": "dryad-payment",
            "time": "2025-11-23 12:00:00",
            "message": "支付模块服务运行正常",
        },
    },
    error=ERROR,
    error_example={"code": 500, "msg": "DOWN", "data": None},
    error_statuses=(503,),
)
