"""An Alipay OpenAPI gateway simulator on loopback.

POST /gateway.do takes the signed form (app_id, method, charset, sign_type
RSA2, timestamp, version, biz_content, sign), checks the RSA2 signature
(SHA256withRSA over the sorted non-empty parameters except `sign`) with the
app's public key, and answers `{"<method>_response": {...}, "sign": "…"}`
signed over the exact response object text with its own Alipay key.
GET /gateway.do opens a wap.pay / page.pay URL the same way. `pay()` sends
the asynchronous notification as a signed form (sorted, sign and sign_type
left out). Faults: queued error answers, slow answers, broken signatures.

With `certificates=True` the app is in public-key-certificate mode: the sim
is also the open platform that issued the app certificate, the Alipay
certificate and the root bundle (`self.certs`, the files an operator
downloads). Requests must then carry the `app_cert_sn` and
`alipay_root_cert_sn` of what it issued, computed here from the names and
serials it chose (not by parsing certificates), and every response names
its signing certificate in `alipay_cert_sn`. `rotate_alipay_cert()` is
Alipay renewing its certificate: later answers and notifications are signed
with a new key under a new SN. `alipay.open.app.alipaycert.download` serves
the certificates it issued by SN (base64 of the PEM file, as Alipay does;
`cert_downloads` lists the SNs asked for); `cert_download_fault` makes it
serve the renewed certificate re-signed by a root outside the bundle
("foreign_root"), a genuine certificate under another SN ("other_sn"), or
an error answer ("error").
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.alipay_certs_sim import alipay_signing_key, issue_certificates
from tests.fakes.fiat_http import SimRequest, SimResponse, ThreadedSim

CHINA = dt.timezone(dt.timedelta(hours=8))
FMT = "%Y-%m-%d %H:%M:%S"


def _content(params: dict[str, str], exclude: tuple[str, ...], skip_empty: bool) -> bytes:
    return "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and (v or not skip_empty)
    ).encode()


OK = {"code": "10000", "msg": "Success"}
CREATE_METHODS = (
    "alipay.trade.precreate",
    "alipay.trade.create",
    "alipay.trade.wap.pay",
    "alipay.trade.page.pay",
)


@dataclass
class SimTrade:
    out_trade_no: str
    total_amount: str
    subject: str
    notify_url: str
    method: str
    trade_no: str = ""
    trade_status: str = "WAIT_BUYER_PAY"
    scanned: bool = False
    gmt_payment: str = ""


class AlipaySim(ThreadedSim):
    def __init__(
        self, *, app_id: str, seller_id: str, app_public_key: rsa.RSAPublicKey, certificates: bool = False
    ) -> None:
        super().__init__()
        self.app_id, self.seller_id, self.app_key = app_id, seller_id, app_public_key
        self.alipay_key = alipay_signing_key(0)
        self.certs = issue_certificates(app_id, seller_id, app_public_key) if certificates else None
        self.alipay_cert_sn = self.certs.alipay_cert_sn if self.certs else ""
        self.trades: dict[str, SimTrade] = {}
        self.faults: list[SimResponse | str] = []
        self.callbacks: list[tuple[str, bytes]] = []
        self.cert_downloads: list[str] = []  # alipay_cert_sn of each download asked for
        self.cert_download_fault: str | None = None  # "foreign_root" | "other_sn" | "error"

    @property
    def gateway(self) -> str:
        return f"{self.url}/gateway.do"

    def _sign(self, message: bytes, key: rsa.RSAPrivateKey | None = None) -> str:
        raw = (key or self.alipay_key).sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def _respond(self, method: str, data: dict[str, Any], *, broken: bool = False) -> SimResponse:
        inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        sign = self._sign(inner.encode())
        if broken:
            inner = inner.replace('"Success"', '"Success "')
        key = method.replace(".", "_") + "_response"
        cert = f'"alipay_cert_sn":"{self.alipay_cert_sn}",' if self.certs else ""
        text = f'{{"{key}":{inner},{cert}"sign":"{sign}"}}'
        return SimResponse(200, text.encode(), {"Content-Type": "text/html;charset=utf-8"})

    def handle(self, request: SimRequest) -> SimResponse:
        if urlsplit(request.path).path != "/gateway.do":
            return SimResponse(404, b"Not Found")
        raw = request.body.decode() if request.method == "POST" else urlsplit(request.path).query
        params = dict(parse_qsl(raw, keep_blank_values=True))
        method = params.get("method", "")
        if params.get("app_id") != self.app_id:
            return self._respond(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-app-id",
                    "sub_msg": "无效的AppID参数",
                },
            )
        if self.certs is not None:
            refused = self._check_cert_sns(params)
            if refused is not None:
                return self._respond(method, refused)
        try:
            signature = base64.b64decode(params.get("sign", ""))
            self.app_key.verify(
                signature, _content(params, ("sign",), True), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return self._respond(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-signature",
                    "sub_msg": "验签出错",
                },
            )
        if self.faults:
            fault = self.faults.pop(0)
            return (
                fault
                if isinstance(fault, SimResponse)
                else self._respond(method, {"code": "10000", "msg": "Success", "qr_code": "x"}, broken=True)
            )
        biz = json.loads(params.get("biz_content") or "{}")
        return self._dispatch(method, biz, params)

    def _check_cert_sns(self, params: dict[str, str]) -> dict[str, str] | None:
        """The gateway's answer to SNs other than the ones issued (None: they match)."""
        assert self.certs is not None
        if params.get("app_cert_sn") != self.certs.app_cert_sn:
            return {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.app-cert-not-exist",
                "sub_msg": "应用公钥证书不存在",
            }
        if params.get("alipay_root_cert_sn") != self.certs.alipay_root_cert_sn:
            return {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-alipay-root-cert-sn",
                "sub_msg": "无效支付宝根证书序列号",
            }
        return None

    def rotate_alipay_cert(self) -> None:
        """Alipay renews its certificate: sign with the new key under the new SN."""
        assert self.certs is not None, "certificate mode only"
        self.alipay_key = alipay_signing_key(1)
        self.alipay_cert_sn = self.certs.renewed_alipay_cert_sn

    def _download_cert(self, method: str, sn: str) -> SimResponse:
        """alipay.open.app.alipaycert.download: a certificate it issued, by SN."""
        assert self.certs is not None
        self.cert_downloads.append(sn)
        issued = {
            self.certs.alipay_cert_sn: self.certs.alipay_cert,
            self.certs.renewed_alipay_cert_sn: self.certs.renewed_alipay_cert,
        }
        pem = issued.get(sn)
        if self.cert_download_fault == "foreign_root":
            pem = self.certs.forged_renewed_alipay_cert
        elif self.cert_download_fault == "other_sn":
            pem = self.certs.alipay_cert  # genuine, but not the one asked for
        if pem is None or self.cert_download_fault == "error":
            return self._respond(
                method,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "isv.alipay-cert-not-exist",  # shape as documented; code made up
                    "sub_msg": "支付宝公钥证书不存在",
                },
            )
        content = base64.b64encode(pem.encode()).decode()
        return self._respond(method, {"code": "10000", "msg": "Success", "alipay_cert_content": content})

    def _error(self, method: str, sub_code: str, sub_msg: str) -> SimResponse:
        return self._respond(
            method, {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
        )

    def _dispatch(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> SimResponse:
        no = str(biz.get("out_trade_no", ""))
        if method == "alipay.open.app.alipaycert.download" and self.certs is not None:
            return self._download_cert(method, str(biz.get("alipay_cert_sn", "")))
        if method in CREATE_METHODS:
            return self._create(method, no, biz, params)
        trade = self.trades.get(no)
        if trade is None or not trade.scanned:
            return self._error(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if method == "alipay.trade.query":
            return self._query(method, trade)
        if method == "alipay.trade.close":
            if trade.trade_status != "WAIT_BUYER_PAY":
                return self._error(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            trade.trade_status = "TRADE_CLOSED"
            return self._respond(method, OK | {"out_trade_no": no, "trade_no": trade.trade_no})
        if method == "alipay.trade.refund":
            refund = {"fund_change": "Y", "refund_fee": biz.get("refund_amount")}
            return self._respond(method, OK | {"out_trade_no": no, "trade_no": trade.trade_no} | refund)
        return self._error(method, "isv.invalid-method", "不存在的方法名")

    def _create(self, method: str, no: str, biz: dict[str, Any], params: dict[str, str]) -> SimResponse:
        if Decimal(biz.get("total_amount", "0")) <= 0:
            return self._error(method, "ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额")
        trade = SimTrade(
            no, biz["total_amount"], biz.get("subject", ""), params.get("notify_url", ""), method
        )
        self.trades[no] = trade
        if method == "alipay.trade.precreate":
            qr = f"https://qr.alipay.com/bax0{secrets.token_hex(10)}"
            return self._respond(method, OK | {"out_trade_no": no, "qr_code": qr})
        if method == "alipay.trade.create":
            trade.trade_no, trade.scanned = self._trade_no(), True
            return self._respond(method, OK | {"out_trade_no": no, "trade_no": trade.trade_no})
        trade.scanned = True
        return SimResponse(200, b"<html><body>Alipay cashier</body></html>", {"Content-Type": "text/html"})

    def _query(self, method: str, trade: SimTrade) -> SimResponse:
        data = OK | {
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "trade_status": trade.trade_status,
            "total_amount": trade.total_amount,
            "buyer_logon_id": "159****5620",
        }
        if trade.gmt_payment:
            data["send_pay_date"] = trade.gmt_payment
        return self._respond(method, data)

    def _trade_no(self) -> str:
        return (
            dt.datetime.now(CHINA).strftime("%Y%m%d")
            + "22001"
            + "".join(secrets.choice("0123456789") for _ in range(15))
        )

    # -- the payer ---------------------------------------------------------

    def scan(self, no: str) -> SimTrade:
        trade = self.trades[no]
        trade.scanned = True
        trade.trade_no = trade.trade_no or self._trade_no()
        return trade

    def mark_paid(self, no: str) -> SimTrade:
        trade = self.scan(no)
        trade.trade_status = "TRADE_SUCCESS"
        trade.gmt_payment = dt.datetime.now(CHINA).strftime(FMT)
        return trade

    def notification(
        self, trade: SimTrade, *, key: rsa.RSAPrivateKey | None = None, **override: str
    ) -> bytes:
        now = dt.datetime.now(CHINA).strftime(FMT)
        fields = {
            "gmt_create": now,
            "charset": "utf-8",
            "seller_email": "shop@example.com",
            "subject": trade.subject,
            "buyer_id": "2088102177846880",
            "invoice_amount": trade.total_amount,
            "notify_id": "2024" + secrets.token_hex(14),
            "fund_bill_list": json.dumps(
                [{"amount": trade.total_amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
            ),
            "notify_type": "trade_status_sync",
            "trade_status": trade.trade_status,
            "receipt_amount": trade.total_amount,
            "app_id": self.app_id,
            "buyer_pay_amount": trade.total_amount,
            "notify_time": now,
            "point_amount": "0.00",
            "total_amount": trade.total_amount,
            "seller_id": self.seller_id,
            "trade_no": trade.trade_no,
            "auth_app_id": self.app_id,
            "gmt_payment": trade.gmt_payment,
            "out_trade_no": trade.out_trade_no,
            "version": "1.0",
        } | override
        fields["sign"] = self._sign(_content(fields, ("sign", "sign_type"), False), key)
        fields["sign_type"] = "RSA2"
        return urlencode(fields).encode()

    async def pay(self, no: str, *, drop: bool = False, **override: Any) -> httpx.Response | None:
        trade = self.mark_paid(no)
        body = self.notification(trade, **override)
        self.callbacks.append((trade.notify_url, body))
        if drop:
            return None
        return await self.send(trade.notify_url, body)

    async def send(self, url: str, body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, content=body, headers=headers)
