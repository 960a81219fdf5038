"""OpenAPI pieces of the cashier face (seed 000) that several of its
operations share: the error shape and the exchange order's extra field."""

from __future__ import annotations

from api.http.faces import openapi_doc as doc

ERROR = doc.obj({"success": doc.boolean(), "msg": doc.string()}, required=("success", "msg"))
BOTH = doc.obj({"zh": doc.string(), "en": doc.string()})
EXCHANGE = doc.obj(
    {
        "plat": doc.string(enum=("OKX", "BINANCE", "HTX")),
        "name": BOTH,
        "pay_to": doc.string("the receiving account as the exchange's app asks for it"),
        "to_kind": doc.string(enum=("id", "email", "phone", "address")),
        "to_label": BOTH,
        "steps": doc.obj({"zh": doc.array(doc.string()), "en": doc.array(doc.string())}),
        "ref_label": BOTH,
        "ref_hint": BOTH,
    },
    description="extra, for an exchange order (seed 004 type 2): how to pay it by an internal transfer "
    "and which identifier POST /api/cashier/paid takes",
)
