"""A WeChat Pay API v3 simulator on loopback.

It checks the merchant's `WECHATPAY2-SHA256-RSA2048` Authorization with the
merchant's public key (SHA256withRSA over method, URL, timestamp, nonce and
body), answers with the real response shapes signed by its own platform key
(Wechatpay-Timestamp / -Nonce / -Signature / -Serial), and "pays" orders by
sending callbacks whose resource is AEAD_AES_256_GCM-encrypted with the
APIv3 key, signed like the real ones. Faults: queued error answers, slow
answers (timeouts), broken response signatures; callbacks can be dropped,
tampered, replayed, or carry a wrong amount / mchid / old timestamp.

`GET /v3/certificates` lists the platform certificates, each encrypted with
the APIv3 key; `rotate()` switches to a new certificate; certificate faults
serve a list whose signature fails or whose ciphertext was altered.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tests.fakes.fiat_http import SimRequest, SimResponse, ThreadedSim
from tests.fakes.fiat_keys import rsa_key

CHINA = dt.timezone(dt.timedelta(hours=8))
AUTH_RE = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.+)$")
PAIR_RE = re.compile(r'(\w+)="([^"]*)"')


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def self_signed_cert(
    key: rsa.RSAPrivateKey, *, expires_in: dt.timedelta = dt.timedelta(days=365)
) -> x509.Certificate:
    """A platform certificate; a negative `expires_in` makes an expired one."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (simulated)")])
    now = dt.datetime.now(dt.UTC)
    expires = now + expires_in
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, expires) - dt.timedelta(days=1))
        .not_valid_after(expires)
        .sign(key, hashes.SHA256())
    )


def serial_of(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")  # as WeChat writes it


def certificate_entry(apiv3_key: bytes, cert: x509.Certificate) -> dict[str, Any]:
    """One item of the /v3/certificates list: the PEM encrypted like callback resources."""
    nonce = secrets.token_hex(6)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), pem, b"certificate")
    return {
        "serial_no": serial_of(cert),
        "effective_time": cert.not_valid_before_utc.astimezone(CHINA).isoformat(timespec="seconds"),
        "expire_time": cert.not_valid_after_utc.astimezone(CHINA).isoformat(timespec="seconds"),
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": "certificate",
            "ciphertext": base64.b64encode(ciphertext).decode(),
        },
    }


@dataclass
class SimOrder:
    out_trade_no: str
    appid: str
    mchid: str
    kind: str
    amount: int
    description: str
    notify_url: str
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    refunds: list[dict[str, Any]] = field(default_factory=list)


class WechatSim(ThreadedSim):
    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_public_key: rsa.RSAPublicKey,
        merchant_serial: str,
        apiv3_key: str,
        mode: str = "public_key",
    ) -> None:
        super().__init__()
        self.mchid, self.appid = mchid, appid
        self.merchant_key, self.merchant_serial = merchant_public_key, merchant_serial
        self.apiv3_key = apiv3_key.encode()
        self.platform_key = rsa_key("wechat-platform")
        self.certificate = self_signed_cert(self.platform_key)
        self.public_key_id = "PUB_KEY_ID_0116" + secrets.token_hex(10).upper()
        self.serial = self.public_key_id if mode == "public_key" else serial_of(self.certificate)
        # Every certificate /v3/certificates lists, and the one that signs that list.
        self.listed: list[tuple[rsa.RSAPrivateKey, x509.Certificate]] = [
            (self.platform_key, self.certificate)
        ]
        self.list_signer = (self.platform_key, serial_of(self.certificate))
        self.certificate_downloads = 0
        # Next certificate list answers: "bad_signature" (body changed after
        # signing) or "tampered" (one ciphertext altered, then signed).
        self.certificate_faults: list[str] = []
        self.orders: dict[str, SimOrder] = {}
        self.faults: list[SimResponse | str] = []  # next answers: a response, or "bad_signature"
        self.callbacks: list[tuple[str, dict[str, str], bytes]] = []  # (url, headers, body)

    # -- the merchant API --------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        problem = self._check_auth(request)
        if problem:
            return self._answer(401, {"code": "SIGN_ERROR", "message": problem})
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, SimResponse):
                return fault
            return self._answer(200, {}, broken=True)
        path = urlsplit(request.path).path
        body = json.loads(request.body) if request.body else {}
        if request.method == "POST" and (m := re.fullmatch(r"/v3/pay/transactions/(native|jsapi|h5)", path)):
            return self._create(m.group(1), body)
        if m := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path):
            return self._query(unquote(m.group(1)))
        if m := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path):
            return self._close(unquote(m.group(1)))
        if path == "/v3/refund/domestic/refunds":
            return self._refund(body)
        if request.method == "GET" and path == "/v3/certificates":
            return self._certificates()
        return self._answer(404, {"code": "NOT_FOUND", "message": "no such API"})

    def _check_auth(self, request: SimRequest) -> str:
        match = AUTH_RE.match(request.headers.get("authorization", ""))
        if not match:
            return "Authorization 不合法"
        pairs = dict(PAIR_RE.findall(match.group(1)))
        if pairs.get("mchid") != self.mchid or pairs.get("serial_no") != self.merchant_serial:
            return "商户证书序列号或商户号有误"
        if abs(time.time() - int(pairs.get("timestamp", "0") or 0)) > 300:
            return "timestamp 过期"
        message = (
            f"{request.method}\n{request.path}\n{pairs['timestamp']}\n{pairs.get('nonce_str', '')}\n".encode()
        )
        try:
            signature = base64.b64decode(pairs.get("signature", ""))
            self.merchant_key.verify(
                signature, message + request.body + b"\n", padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return "签名错误"
        return ""

    def _answer(self, status: int, data: dict[str, Any] | None, *, broken: bool = False) -> SimResponse:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        headers = self.signed_headers(body)
        if broken:  # signed, then the body changed on the way
            body = json.dumps({"code_url": "weixin://wxpay/bizpayurl?pr=evil"}).encode()
        headers["Content-Type"] = "application/json"
        headers["Request-ID"] = secrets.token_hex(16)
        return SimResponse(status, body, headers)

    def signed_headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        signer: tuple[rsa.RSAPrivateKey, str] | None = None,
    ) -> dict[str, str]:
        key, serial = signer or (self.platform_key, self.serial)
        ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        signature = _sign(key, f"{ts}\n{nonce}\n".encode() + body + b"\n")
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    # -- platform certificates ---------------------------------------------

    def _certificates(self) -> SimResponse:
        self.certificate_downloads += 1
        fault = self.certificate_faults.pop(0) if self.certificate_faults else ""
        entries = [certificate_entry(self.apiv3_key, cert) for _, cert in self.listed]
        if fault == "tampered":
            raw = bytearray(base64.b64decode(entries[0]["encrypt_certificate"]["ciphertext"]))
            raw[40] ^= 0x01
            entries[0]["encrypt_certificate"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
        body = json.dumps({"data": entries}).encode()
        headers = self.signed_headers(body, signer=self.list_signer)
        if fault == "bad_signature":  # signed, then a certificate swapped in on the way
            body = json.dumps({"data": [certificate_entry(self.apiv3_key, self.certificate)]}).encode()
        headers["Content-Type"] = "application/json"
        return SimResponse(200, body, headers)

    def rotate(self, *, sign_list_with_new: bool = False) -> str:
        """WeChat switches to a new platform certificate: a new key and serial
        sign answers and callbacks from now on; returns the new serial. The old
        certificate stays listed and keeps signing the list: WeChat lists a new
        certificate 24 h before using it, and this folds that day into one
        step. sign_list_with_new: a merchant who missed that day."""
        key = rsa_key(f"wechat-platform-{len(self.listed) + 1}")
        self.platform_key, self.certificate = key, self_signed_cert(key)
        self.serial = serial_of(self.certificate)
        self.listed.append((key, self.certificate))
        if sign_list_with_new:
            self.list_signer = (key, self.serial)
        return self.serial

    def _create(self, kind: str, body: dict[str, Any]) -> SimResponse:
        required = ["appid", "mchid", "description", "out_trade_no", "notify_url", "amount"]
        missing = [name for name in required if name not in body]
        if kind == "jsapi" and "payer" not in body:
            missing.append("payer")
        if missing:
            return self._answer(400, {"code": "PARAM_ERROR", "message": f"缺少参数 {missing[0]}"})
        if body["mchid"] != self.mchid:
            return self._answer(400, {"code": "MCH_NOT_EXISTS", "message": "商户号不存在"})
        no = body["out_trade_no"]
        if no in self.orders and self.orders[no].amount != body["amount"]["total"]:
            return self._answer(400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"})
        self.orders[no] = SimOrder(
            no,
            body["appid"],
            body["mchid"],
            kind,
            body["amount"]["total"],
            body["description"],
            body["notify_url"],
        )
        if kind == "native":
            return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"})
        if kind == "h5":
            return self._answer(
                200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{no}"}
            )
        return self._answer(200, {"prepay_id": f"wx{secrets.token_hex(14)}"})

    def transaction(self, order: SimOrder) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "appid": order.appid,
            "mchid": order.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_type": order.kind.upper() if order.kind != "h5" else "MWEB",
            "trade_state": order.trade_state,
            "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}.get(
                order.trade_state, ""
            ),
            "amount": {"total": order.amount, "currency": "CNY"},
        }
        if order.transaction_id:
            tx |= {
                "transaction_id": order.transaction_id,
                "bank_type": "OTHERS",
                "success_time": order.success_time,
                "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
                "amount": {
                    "total": order.amount,
                    "payer_total": order.amount,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        return tx

    def _query(self, no: str) -> SimResponse:
        order = self.orders.get(no)
        if order is None:
            return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._answer(200, self.transaction(order))

    def _close(self, no: str) -> SimResponse:
        order = self.orders.get(no)
        if order is None:
            return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        if order.trade_state == "SUCCESS":
            return self._answer(400, {"code": "ORDERPAID", "message": "订单已支付"})
        order.trade_state = "CLOSED"
        return self._answer(204, None)

    def _refund(self, body: dict[str, Any]) -> SimResponse:
        order = self.orders.get(body.get("out_trade_no", ""))
        if order is None or order.trade_state != "SUCCESS":
            return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在或未支付"})
        order.refunds.append(body)
        return self._answer(
            200,
            {
                "refund_id": secrets.token_hex(8),
                "out_refund_no": body["out_refund_no"],
                "status": "PROCESSING",
            },
        )

    # -- the payer ---------------------------------------------------------

    def mark_paid(self, no: str) -> SimOrder:
        order = self.orders[no]
        order.trade_state = "SUCCESS"
        order.transaction_id = order.transaction_id or "42000" + "".join(
            secrets.choice("0123456789") for _ in range(23)
        )
        order.success_time = dt.datetime.now(CHINA).isoformat(timespec="seconds")
        return order

    def callback(
        self,
        order: SimOrder,
        *,
        amount: int | None = None,
        mchid: str | None = None,
        timestamp: int | None = None,
        apiv3_key: bytes | None = None,
    ) -> tuple[dict[str, str], bytes]:
        tx = self.transaction(order)
        if amount is not None:
            tx["amount"]["total"] = amount
        if mchid is not None:
            tx["mchid"] = mchid
        nonce = secrets.token_urlsafe(9)[:12]
        ciphertext = AESGCM(apiv3_key or self.apiv3_key).encrypt(
            nonce.encode(), json.dumps(tx, ensure_ascii=False).encode(), b"transaction"
        )
        envelope = {
            "id": f"EV-{secrets.token_hex(8)}",
            "create_time": dt.datetime.now(CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        headers = self.signed_headers(body, timestamp=timestamp) | {"Content-Type": "application/json"}
        return headers, body

    async def pay(
        self, no: str, *, drop: bool = False, tamper: bool = False, **callback: Any
    ) -> httpx.Response | None:
        """The payer pays; WeChat notifies (unless the callback is lost)."""
        order = self.mark_paid(no)
        headers, body = self.callback(order, **callback)
        headers_body_before = body
        if tamper:
            body = body.replace("支付成功".encode(), "支付失败".encode())
            assert body != headers_body_before
        self.callbacks.append((order.notify_url, headers, body))
        if drop:
            return None
        return await self.send(order.notify_url, headers, body)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, content=body, headers=headers)
