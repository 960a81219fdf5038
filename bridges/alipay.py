"""Alipay OpenAPI with RSA2: face-to-face QR (precreate), mobile and desktop
pay URLs (wap.pay / page.pay), in-app JSAPI (trade.create), query, close,
refund and asynchronous notifications.

Alipay speaks yuan with two decimals; `to_yuan` / `to_fen` are this bridge's
only conversions. Only TRADE_SUCCESS and TRADE_FINISHED mean paid.

Public-key mode and certificate mode (bridges/alipay_certs.py) differ in
the two certificate SNs every request carries and in the `alipay_cert_sn`
every signed response names. Public-key mode verifies with one RSA key;
certificate mode with the key of the named certificate, downloading it
when Alipay has renewed its certificate.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from bridges.alipay_certs import (
    RENEW_ALIPAY_CERT,
    AlipayCertificates,
    AlipayCertStore,
    load_alipay_certificates,
)
from bridges.http import make_client, send
from bridges.keys import load_private_key, load_public_key, rsa_sign, rsa_verify
from engine import money
from engine.clock import CHINA, Clock, SystemClock
from engine.config import AlipaySettings
from engine.errors import BadInput, UsdtPayError
from engine.fiat.channel import (
    CallbackAck,
    CallbackRejected,
    ChannelError,
    ChannelEvent,
    ClientKind,
    PaymentCreated,
    PaymentRequest,
    PaymentStatus,
)
from engine.signing import JsonNumber

log = logging.getLogger("usdtpay.bridges.alipay")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
STATUS = {
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_SUCCESS": PaymentStatus.PAID,
    "TRADE_FINISHED": PaymentStatus.PAID,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}
NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
# Gateway answers that mean the certificate settings, not the request, are wrong.
CERT_HINTS = {
    "isv.app-cert-not-exist": "USDTPAY_ALIPAY__APP_CERT is not the app certificate Alipay issued "
    "for this app; download appCertPublicKey_<app id>.crt again from the Alipay open platform",
    "isv.invalid-alipay-root-cert-sn": "USDTPAY_ALIPAY__ALIPAY_ROOT_CERT is not Alipay's root "
    "bundle; download alipayRootCert.crt again from the Alipay open platform",
}
CERT_DOWNLOAD = "alipay.open.app.alipaycert.download"


def to_yuan(fen: int) -> str:
    return money.format_fen(fen)


def to_fen(text: object, field: str) -> int:
    try:
        return money.parse_amount(text, money.FEN_DECIMALS, field=field)
    except UsdtPayError as exc:
        raise CallbackRejected(exc.message) from exc


def china_time(when: datetime) -> str:
    return when.astimezone(CHINA).strftime(TIME_FORMAT)


def parse_china_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA).astimezone(UTC)
    except ValueError:
        return None


def sign_content(params: dict[str, str], *, exclude: tuple[str, ...], skip_empty: bool) -> bytes:
    """Sorted `k=v` pairs joined with `&`: what RSA2 signs."""
    pairs = [
        f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and (v != "" or not skip_empty)
    ]
    return "&".join(pairs).encode()


def response_content(text: str, key: str) -> tuple[str, Any] | None:
    """The exact JSON text of `key`'s value (what Alipay signed) and its value."""
    decoder = json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber)
    marker = f'"{key}"'
    at = text.find(marker)
    if at < 0:
        return None
    start = text.index(":", at + len(marker)) + 1
    while text[start] in " \t\r\n":
        start += 1
    value, end = decoder.raw_decode(text, start)
    return text[start:end], value


class AlipayChannel:
    name = "alipay"

    def __init__(
        self,
        settings: AlipaySettings,
        *,
        notify_url: str,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.notify_url = notify_url
        self.clock = clock or SystemClock()
        if not settings.app_id:
            raise BadInput("USDTPAY_ALIPAY__APP_ID is required")
        self.key = load_private_key(
            settings.app_private_key.get_secret_value(), "USDTPAY_ALIPAY__APP_PRIVATE_KEY"
        )
        self.certs: AlipayCertificates | None = None
        self.cert_store: AlipayCertStore | None = None
        if settings.key_mode == "certificate":
            self.certs = load_alipay_certificates(settings, self.key)
            self.alipay_key = self.certs.alipay_key
            self.cert_store = AlipayCertStore(self.certs, download=self._download_cert, clock=self.clock)
        else:
            self.alipay_key = load_public_key(settings.alipay_public_key, "USDTPAY_ALIPAY__ALIPAY_PUBLIC_KEY")
        self.client = client or make_client(settings.gateway_url, settings.timeout_seconds)

    def _signed(
        self, method: str, biz: dict[str, Any], extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        params = {
            "app_id": self.settings.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": china_time(self.clock.now()),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **(extra or {}),
        }
        if self.certs is not None:  # signed along with everything else
            params["app_cert_sn"] = self.certs.app_cert_sn
            params["alipay_root_cert_sn"] = self.certs.alipay_root_cert_sn
        params["sign"] = rsa_sign(self.key, sign_content(params, exclude=("sign",), skip_empty=True))
        return params

    async def _call(self, method: str, biz: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
        return await self._verified(method, await self._post(method, biz, extra))

    async def _post(self, method: str, biz: dict[str, Any], extra: dict[str, str] | None = None) -> str:
        """The gateway's answer text, not verified yet; an HTTP error becomes ChannelError."""
        body = urlencode(self._signed(method, biz, extra)).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        response = await send(
            self.client, self.name, "POST", self.settings.gateway_url, content=body, headers=headers
        )
        if response.status_code != 200:
            hint = "retry later" if response.status_code >= 500 else "check the gateway URL setting"
            raise ChannelError(
                self.name,
                f"http_{response.status_code}",
                response.text[:200],
                http_status=response.status_code,
                hint=hint,
            )
        return response.text

    def _parsed(self, method: str, text: str) -> tuple[str, dict[str, Any], object, object]:
        """(signed text of the response object, the object, sign, alipay_cert_sn)."""
        try:
            found = response_content(text, method.replace(".", "_") + "_response") or response_content(
                text, "error_response"
            )
            envelope = json.loads(text)
            sign, cert_sn = envelope.get("sign"), envelope.get("alipay_cert_sn")
        except (ValueError, IndexError, AttributeError) as exc:
            raise ChannelError(self.name, "bad_response", "answer is not Alipay JSON") from exc
        if found is None or not isinstance(found[1], dict):
            raise ChannelError(self.name, "bad_response", "answer lacks the response object")
        return found[0], found[1], sign, cert_sn

    def _failed(self, data: dict[str, Any]) -> ChannelError | None:
        if data.get("code") == "10000":
            return None
        code = str(data.get("sub_code") or data.get("code") or "unknown")
        message = str(data.get("sub_msg") or data.get("msg") or "")
        hint = CERT_HINTS.get(code, "fix the request or the app settings")
        return ChannelError(self.name, code, message, hint=hint)

    async def _verified(self, method: str, text: str) -> Any:
        content, data, sign, cert_sn = self._parsed(method, text)
        key = self.alipay_key
        if self.cert_store is not None and cert_sn is not None:
            if not isinstance(cert_sn, str) or not cert_sn or len(cert_sn) > 128:
                raise ChannelError(self.name, "bad_response", "answer's alipay_cert_sn is not an SN")
            # The configured certificate, one learned before, or (after a
            # renewal) downloaded now: a certificate we cannot trust raises.
            key = await self.cert_store.key_for(cert_sn)
        signed_ok = isinstance(sign, str) and rsa_verify(key, content.encode(), sign)
        if sign is not None and not signed_ok:
            raise ChannelError(self.name, "bad_signature", "response signature does not verify")
        failed = self._failed(data)
        if failed is not None:
            raise failed
        if not signed_ok:
            raise ChannelError(self.name, "bad_signature", "successful response is not signed")
        return data

    async def _download_cert(self, sn: str) -> object:
        """`alipay_cert_content` of Alipay certificate `sn`. Not verified
        here: the store trusts the certificate by its chain to the root
        bundle, as Alipay's SDKs do; the answer itself is signed with the
        certificate it carries, so checking it first would go round in circles."""
        text = await self._post(CERT_DOWNLOAD, {"alipay_cert_sn": sn})
        _, data, _, _ = self._parsed(CERT_DOWNLOAD, text)
        failed = self._failed(data)
        if failed is not None:
            raise failed
        return data.get("alipay_cert_content")

    def _pay_url(self, method: str, biz: dict[str, Any], return_url: str) -> str:
        extra = {"notify_url": self.notify_url}
        if return_url or self.settings.return_url:
            extra["return_url"] = return_url or self.settings.return_url
        params = self._signed(method, biz, extra)
        sep = "&" if "?" in self.settings.gateway_url else "?"
        return f"{self.settings.gateway_url}{sep}{urlencode(params)}"

    async def create(self, request: PaymentRequest) -> PaymentCreated:
        biz: dict[str, Any] = {
            "out_trade_no": request.out_trade_no,
            "total_amount": to_yuan(request.amount_fen),
            "subject": request.subject[:256] or "order",
            "time_expire": china_time(request.expires_at),
        }
        notify = {"notify_url": request.notify_url or self.notify_url}
        if request.kind == ClientKind.QR:
            data = await self._call("alipay.trade.precreate", biz, notify)
            qr = data.get("qr_code")
            if not isinstance(qr, str) or not qr:
                raise ChannelError(self.name, "bad_response", "precreate answer lacks qr_code")
            scheme = "alipays://platformapi/startapp?saId=10000007&qrcode=" + quote(qr, safe="")
            return PaymentCreated(qrcode=qr, urlscheme=scheme)
        if request.kind == ClientKind.JSAPI:
            if not request.openid:
                raise BadInput("openid (the payer's Alipay user id) is required for Alipay JSAPI payments")
            biz |= {"buyer_id": request.openid, "product_code": "JSAPI_PAY"}
            data = await self._call("alipay.trade.create", biz, notify)
            trade_no = str(data.get("trade_no") or "")
            if not trade_no:
                raise ChannelError(self.name, "bad_response", "trade.create answer lacks trade_no")
            return PaymentCreated(jsapi={"tradeNO": trade_no}, channel_trade_no=trade_no)
        if request.kind == ClientKind.H5:
            biz |= {
                "product_code": "QUICK_WAP_WAY",
                "quit_url": request.return_url or self.settings.return_url,
            }
            return PaymentCreated(payurl=self._pay_url("alipay.trade.wap.pay", biz, request.return_url))
        biz["product_code"] = "FAST_INSTANT_TRADE_PAY"
        return PaymentCreated(payurl=self._pay_url("alipay.trade.page.pay", biz, request.return_url))

    async def query(self, out_trade_no: str) -> ChannelEvent | None:
        try:
            data = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except ChannelError as exc:
            if exc.provider_code == NOT_EXIST:  # precreated but never scanned
                return None
            raise
        try:
            return self._event(data, paid_time_field="send_pay_date")
        except CallbackRejected as exc:
            raise ChannelError(self.name, "bad_response", exc.message) from exc

    async def close(self, out_trade_no: str) -> None:
        try:
            await self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except ChannelError as exc:
            if exc.provider_code != NOT_EXIST:
                raise

    async def refund(self, out_trade_no: str, refund_no: str, amount_fen: int, total_fen: int) -> None:
        biz = {
            "out_trade_no": out_trade_no,
            "refund_amount": to_yuan(amount_fen),
            "out_request_no": refund_no,
        }
        await self._call("alipay.trade.refund", biz)

    async def parse_callback(self, headers: dict[str, str], body: bytes) -> ChannelEvent:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackRejected("notification is not a UTF-8 form") from exc
        if fields.get("sign_type", "RSA2") != "RSA2":
            raise CallbackRejected("notification sign_type is not RSA2")
        content = sign_content(fields, exclude=("sign", "sign_type"), skip_empty=False)
        # Notifications name no certificate: in certificate mode any trusted
        # one may have signed (the configured one first).
        keys = [self.alipay_key] if self.cert_store is None else list(self.cert_store.keys.values())
        if not any(rsa_verify(key, content, fields.get("sign", "")) for key in keys):
            if self.cert_store is not None:
                raise CallbackRejected(
                    "notification signature does not verify with the configured Alipay certificate "
                    "nor any downloaded one; a renewed certificate is learned from the next gateway "
                    f"answer that names it (query), or {RENEW_ALIPAY_CERT}"
                )
            raise CallbackRejected("notification signature does not verify with the Alipay public key")
        if fields.get("app_id") != self.settings.app_id:
            raise CallbackRejected(f"app_id {fields.get('app_id', '')[:32]!r} is not ours")
        if self.settings.seller_id and fields.get("seller_id") != self.settings.seller_id:
            raise CallbackRejected(f"seller_id {fields.get('seller_id', '')[:32]!r} is not ours")
        return self._event(fields, paid_time_field="gmt_payment")

    def _event(self, data: dict[str, Any], *, paid_time_field: str) -> ChannelEvent:
        state = str(data.get("trade_status", ""))
        status = STATUS.get(state)
        if status is None:
            raise CallbackRejected(f"unknown trade_status {state[:32]!r}")
        paid = status == PaymentStatus.PAID
        amount = data.get("total_amount")
        return ChannelEvent(
            out_trade_no=str(data.get("out_trade_no", "")),
            channel_trade_no=str(data.get("trade_no") or ""),
            amount_fen=to_fen(amount, "total_amount") if paid or amount else 0,
            status=status,
            paid_at=(parse_china_time(data.get(paid_time_field)) or self.clock.now()) if paid else None,
            raw={k: v for k, v in data.items() if k != "sign"},
        )

    def ack(self, ok: bool) -> CallbackAck:
        # Alipay wants exactly "success"; anything else makes it notify again.
        return CallbackAck(200, b"success" if ok else b"fail", "text/plain")

    async def aclose(self) -> None:
        await self.client.aclose()
