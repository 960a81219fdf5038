"""A QuickPay (Lianke) simulator on loopback.

Serves POST QuickPay/JSAPIPay, QRPay, Query, Refund and Cancel with the
document's `ResultInfoOfPayResultInfo` envelope, checking the request's
`sign` (upper-case MD5 of the sorted non-empty fields except `sign`,
nested values as compact JSON, `&key=<store key>` appended) and signing
the `data` it returns the same way. `pay()` posts the callback (the
PayResultInfo fields plus `sign`) as JSON and expects `OK`. Faults: queued
error answers and slow answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.fakes.fiat_http import SimRequest, SimResponse, ThreadedSim

CHINA = dt.timezone(dt.timedelta(hours=8))


def md5_sign(fields: dict[str, Any], key: str) -> str:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)

    parts = [f"{k}={text(v)}" for k, v in sorted(fields.items()) if k != "sign" and v not in (None, "")]
    return hashlib.md5("&".join([*parts, f"key={key}"]).encode()).hexdigest().upper()


@dataclass
class SimPayment:
    order_no: str
    amount: int
    paytype: str
    notify_url: str
    attach: str
    transaction_no: str
    status: str = "CREATE"
    transaction_time: str = ""


class QuickPaySim(ThreadedSim):
    def __init__(self, *, store_no: str, store_key: str, signed: bool = True) -> None:
        super().__init__()
        self.store_no, self.store_key = store_no, store_key
        # signed=False: a gateway that authenticates some other way
        # (auth_scheme "none"): requests, answers and callbacks carry no sign.
        self.signed = signed
        self.payments: dict[str, SimPayment] = {}
        self.faults: list[SimResponse] = []
        self.callbacks: list[tuple[str, bytes]] = []

    def _answer(self, code: str, msg: str, data: dict[str, Any] | None = None) -> SimResponse:
        if data is not None and self.signed:
            data = data | {"sign": md5_sign(data, self.store_key)}
        body = json.dumps({"code": code, "msg": msg, "data": data}, ensure_ascii=False).encode()
        return SimResponse(200, body, {"Content-Type": "application/json; charset=utf-8"})

    def handle(self, request: SimRequest) -> SimResponse:
        path = urlsplit(request.path).path.strip("/")
        try:
            fields = json.loads(request.body)
        except ValueError:
            return SimResponse(
                400, b'{"Message":"The request is invalid."}', {"Content-Type": "application/json"}
            )
        if self.signed and fields.get("sign") != md5_sign(fields, self.store_key):
            return self._answer("FAILED", "签名错误")
        if fields.get("store_no") != self.store_no:
            return self._answer("FAILED", "门店不存在")
        if self.faults:
            return self.faults.pop(0)
        handler = {
            "QuickPay/JSAPIPay": self._jsapi,
            "QuickPay/QRPay": self._qr,
            "QuickPay/Query": self._query,
            "QuickPay/Cancel": self._cancel,
            "QuickPay/Refund": self._refund,
        }.get(path)
        return handler(fields) if handler else SimResponse(404, b'{"Message":"No HTTP resource was found"}')

    def result_info(self, p: SimPayment) -> dict[str, Any]:
        return {
            "transaction_status": p.status,
            "store_no": self.store_no,
            "paytype": p.paytype,
            "operator": "WEB",
            "total_amount": p.amount,
            "cash_amount": p.amount,
            "settlement_amount": p.amount,
            "coupon_amount": 0,
            "order_no": p.order_no,
            "transaction_no": p.transaction_no,
            "transaction_time": p.transaction_time,
            "attach": p.attach,
        }

    def _new(self, fields: dict[str, Any], paytype: str) -> SimPayment | SimResponse:
        amount = fields.get("amount")
        if not isinstance(amount, int) or not 1 <= amount <= 9999999999:
            return self._answer("FAILED", "amount 必须在 1 和 9999999999 之间")
        no = str(fields.get("order_no", ""))
        if not 1 <= len(no) <= 32 or no in self.payments:
            return self._answer("FAILED", "商户单据号重复或无效")
        payment = SimPayment(
            no,
            amount,
            paytype,
            fields.get("notify_url", ""),
            fields.get("attach", ""),
            "LK" + secrets.token_hex(10),
        )
        self.payments[no] = payment
        return payment

    def _jsapi(self, fields: dict[str, Any]) -> SimResponse:
        if not fields.get("openid") or (fields.get("paytype", 11) == 11 and not fields.get("appid")):
            return self._answer("FAILED", "openid/appid 必填")
        paytype = "WECHATPAY_JSAPI" if fields.get("paytype", 11) == 11 else "ALIPAY_JSAPI"
        payment = self._new(fields, paytype)
        if isinstance(payment, SimResponse):
            return payment
        param = {
            "appId": fields.get("appid", ""),
            "timeStamp": "1700000000",
            "nonceStr": secrets.token_hex(8),
            "package": f"prepay_id=wx{secrets.token_hex(8)}",
            "signType": "RSA",
            "paySign": "c2lt",
        }
        return self._answer(
            "SUCCESS", "成功", self.result_info(payment) | {"cloudpay_param": json.dumps(param)}
        )

    def _qr(self, fields: dict[str, Any]) -> SimResponse:
        payment = self._new(fields, "QRPAY")
        if isinstance(payment, SimResponse):
            return payment
        return self._answer(
            "SUCCESS",
            "成功",
            self.result_info(payment) | {"qr_code": f"https://pay.lianke.sim/qr/{payment.transaction_no}"},
        )

    def _query(self, fields: dict[str, Any]) -> SimResponse:
        payment = self.payments.get(str(fields.get("order_no")))
        if payment is None:
            return self._answer("ORDER_NOT_EXIST", "订单不存在")
        return self._answer("SUCCESS", "成功", self.result_info(payment))

    def _cancel(self, fields: dict[str, Any]) -> SimResponse:
        payment = self.payments.get(str(fields.get("order_no")))
        if payment is None:
            return self._answer("ORDER_NOT_EXIST", "订单不存在")
        if payment.status == "SUCCESSED":
            return self._answer("FAILED", "订单已支付,不能取消")
        payment.status = "CANCELED"
        return self._answer("SUCCESS", "成功", self.result_info(payment))

    def _refund(self, fields: dict[str, Any]) -> SimResponse:
        payment = self.payments.get(str(fields.get("order_no")))
        if payment is None or payment.status != "SUCCESSED":
            return self._answer("FAILED", "原单不存在或未支付")
        if fields.get("refund_amount", 0) > payment.amount:
            return self._answer("FAILED", "退款金额超过订单金额")
        return self._answer(
            "SUCCESS", "成功", self.result_info(payment) | {"refund_no": fields.get("refund_no")}
        )

    # -- the payer ---------------------------------------------------------

    def mark_paid(self, no: str) -> SimPayment:
        payment = self.payments[no]
        payment.status = "SUCCESSED"
        payment.transaction_time = dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        return payment

    def callback(self, payment: SimPayment, *, key: str | None = None, **override: Any) -> bytes:
        fields = self.result_info(payment) | {"bank_type": "OTHERS", "buyer": "oUpF8uMu"} | override
        if self.signed:
            fields["sign"] = md5_sign(fields, key or self.store_key)
        return json.dumps(fields, ensure_ascii=False).encode()

    async def pay(self, no: str, *, drop: bool = False, **override: Any) -> httpx.Response | None:
        payment = self.mark_paid(no)
        body = self.callback(payment, **override)
        self.callbacks.append((payment.notify_url, body))
        if drop:
            return None
        return await self.send(payment.notify_url, body)

    async def send(self, url: str, body: bytes) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, content=body, headers={"Content-Type": "application/json"})
