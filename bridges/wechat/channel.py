"""WeChat Pay API v3 for a direct merchant: Native, JSAPI, H5, query, close,
refund, and payment callbacks. Amounts are fen on both sides."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from bridges.http import make_client, send
from bridges.keys import load_certificate, load_private_key, load_public_key
from bridges.wechat.certificates import CertificateStore
from bridges.wechat.crypto import (
    PlatformVerifier,
    UnknownSerial,
    authorization,
    decrypt_resource,
    jsapi_params,
)
from engine.clock import CHINA, Clock, SystemClock
from engine.config import WechatSettings
from engine.errors import BadInput
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
from engine.signing import loads_exact

log = logging.getLogger("usdtpay.bridges.wechat")

STATUS = {
    "SUCCESS": PaymentStatus.PAID,
    "REFUND": PaymentStatus.REFUNDED,
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
    "ACCEPT": PaymentStatus.PENDING,
    "CLOSED": PaymentStatus.CLOSED,
    "REVOKED": PaymentStatus.CLOSED,
    "PAYERROR": PaymentStatus.FAILED,
}
ACK_SUCCESS = json.dumps({"code": "SUCCESS", "message": "成功"}, ensure_ascii=False).encode()
ACK_FAIL = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()
ENDPOINT = {
    ClientKind.QR: "native",
    ClientKind.PAGE: "native",
    ClientKind.JSAPI: "jsapi",
    ClientKind.H5: "h5",
}


def fen(value: object, field: str) -> int:
    """WeChat amounts are integer fen; the one conversion point of this bridge."""
    text = value if isinstance(value, str) else ""  # JsonNumber is a str
    if not text.isdigit():
        raise CallbackRejected(f"{field} is not an integer amount in fen")
    return int(text)


def public_keys(settings: WechatSettings) -> dict[str, rsa.RSAPublicKey]:
    """Public key mode: the one platform public key, by its PUB_KEY_ID."""
    if not settings.platform_public_key_id:
        raise BadInput("USDTPAY_WECHAT__PLATFORM_PUBLIC_KEY_ID is required in public_key mode")
    key = load_public_key(settings.platform_public_key, "USDTPAY_WECHAT__PLATFORM_PUBLIC_KEY")
    return {settings.platform_public_key_id: key}


def configured_certificates(settings: WechatSettings) -> dict[str, rsa.RSAPublicKey]:
    """Certificate mode: the PEMs from settings (may be none: then downloaded)."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    for value in settings.platform_certificates:
        serial, key = load_certificate(value, "USDTPAY_WECHAT__PLATFORM_CERTIFICATES")
        keys[serial] = key
    return keys


class WechatChannel:
    name = "wechat"

    def __init__(
        self,
        settings: WechatSettings,
        *,
        notify_url: str,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.notify_url = notify_url
        self.clock = clock or SystemClock()
        self.key = load_private_key(
            settings.merchant_private_key.get_secret_value(), "USDTPAY_WECHAT__MERCHANT_PRIVATE_KEY"
        )
        apiv3 = settings.apiv3_key.get_secret_value().encode()
        if len(apiv3) != 32:
            raise BadInput("USDTPAY_WECHAT__APIV3_KEY must be the 32-character APIv3 key")
        self.apiv3_key = apiv3
        self.appids = {settings.appid, *settings.extra_appids} - {""}
        self.client = client or make_client(settings.api_base_url, settings.timeout_seconds)
        # Certificate mode keeps its keys in a store that downloads WeChat's
        # certificate list; public key mode has one fixed key.
        self.certificates: CertificateStore | None = None
        if settings.verify_mode == "certificate":
            self.certificates = CertificateStore(
                configured=configured_certificates(settings),
                apiv3_key=apiv3,
                fetch=self._fetch_certificates,
                clock=self.clock,
                refresh_seconds=settings.certificate_refresh_seconds,
            )
            keys = self.certificates.keys
        else:
            keys = public_keys(settings)
        self.verifier = PlatformVerifier(keys=keys, tolerance_seconds=settings.timestamp_tolerance_seconds)

    # -- calls -------------------------------------------------------------

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.certificates is not None:
            # Before sending: better not to create a payment whose answer
            # we could not verify.
            await self.certificates.ensure()
        response = await self._send(method, path, payload)
        try:
            await self._verify(
                {k.lower(): v for k, v in response.headers.items()}, response.content, check_time=False
            )
        except CallbackRejected as exc:
            raise ChannelError(
                self.name,
                "bad_signature",
                f"response not trusted: {exc.message}",
                hint="nothing from this answer was used; check the platform key / certificate settings",
            ) from exc
        if not response.content:
            return {}
        data = loads_exact(response.content)
        if not isinstance(data, dict):
            raise ChannelError(self.name, "bad_response", "response is not a JSON object")
        return data

    async def _send(self, method: str, path: str, payload: dict[str, Any] | None = None) -> httpx.Response:
        """A signed request; an error status becomes ChannelError. The answer is not verified yet."""
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        url = self.client.base_url.join(path.lstrip("/"))
        target = url.raw_path.decode()
        headers = {
            "Authorization": authorization(
                mchid=self.settings.mchid,
                serial_no=self.settings.merchant_serial_no,
                key=self.key,
                method=method,
                url_path=target,
                body=body,
            ),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if self.settings.verify_mode == "public_key":
            headers["Wechatpay-Serial"] = self.settings.platform_public_key_id
        response = await send(self.client, self.name, method, str(url), content=body or None, headers=headers)
        if response.status_code >= 300:
            raise self._error(response)
        return response

    async def _fetch_certificates(self) -> httpx.Response:
        # The store checks this answer itself: it carries the keys to check with.
        return await self._send("GET", "/v3/certificates")

    async def _verify(self, headers: dict[str, str], body: bytes, *, check_time: bool) -> None:
        """Raise CallbackRejected unless a trusted platform key signed this. In
        certificate mode an unknown serial first makes the store download the
        list once (WeChat may have switched to a new certificate)."""
        now = self.clock.now().timestamp()
        try:
            self.verifier.verify(headers, body, now=now, check_time=check_time)
        except UnknownSerial as exc:
            if self.certificates is None:
                raise
            if not await self.certificates.learn(exc.serial):
                raise CallbackRejected(
                    f"platform certificate serial {exc.serial[:64]!r} is neither configured "
                    "nor in WeChat's certificate list"
                ) from exc
            self.verifier.verify(headers, body, now=now, check_time=check_time)

    def _error(self, response: httpx.Response) -> ChannelError:
        code, message = f"http_{response.status_code}", response.text[:200]
        try:
            data = json.loads(response.content)
            if isinstance(data, dict) and isinstance(data.get("code"), str):
                code, message = data["code"], str(data.get("message", ""))[:300]
        except ValueError:
            pass
        hint = "retry later" if response.status_code >= 500 else "fix the request or the merchant settings"
        return ChannelError(self.name, code, message, http_status=response.status_code, hint=hint)

    # -- Channel -----------------------------------------------------------

    async def create(self, request: PaymentRequest) -> PaymentCreated:
        appid = request.appid or self.settings.appid
        if appid not in self.appids:
            raise BadInput(f"appid {appid!r} is not one of this merchant's WeChat app ids")
        payload: dict[str, Any] = {
            "appid": appid,
            "mchid": self.settings.mchid,
            "description": request.subject[:127] or "order",
            "out_trade_no": request.out_trade_no,
            "time_expire": request.expires_at.astimezone(CHINA).isoformat(timespec="seconds"),
            "notify_url": request.notify_url or self.notify_url,
            "amount": {"total": request.amount_fen, "currency": "CNY"},
        }
        if request.attach:
            payload["attach"] = request.attach[:128]
        endpoint = ENDPOINT[request.kind]
        if endpoint == "jsapi":
            if not request.openid:
                raise BadInput("openid is required for WeChat JSAPI payments")
            payload["payer"] = {"openid": request.openid}
        if endpoint == "h5":
            payload["scene_info"] = {
                "payer_client_ip": request.client_ip,
                "h5_info": {"type": self.settings.h5_type},
            }
        data = await self._call("POST", f"/v3/pay/transactions/{endpoint}", payload)
        return self._created(endpoint, appid, data)

    def _created(self, endpoint: str, appid: str, data: dict[str, Any]) -> PaymentCreated:
        field = {"native": "code_url", "jsapi": "prepay_id", "h5": "h5_url"}[endpoint]
        value = data.get(field)
        if not isinstance(value, str) or not value:
            raise ChannelError(self.name, "bad_response", f"answer lacks {field}")
        if endpoint == "native":
            return PaymentCreated(qrcode=value)
        if endpoint == "h5":
            return PaymentCreated(payurl=value)
        return PaymentCreated(jsapi=jsapi_params(appid, value, self.key))

    async def query(self, out_trade_no: str) -> ChannelEvent | None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={self.settings.mchid}"
        try:
            data = await self._call("GET", path)
        except ChannelError as exc:
            if exc.provider_code == "ORDER_NOT_EXIST":
                return None
            raise
        try:
            return self._event(data)
        except CallbackRejected as exc:
            raise ChannelError(self.name, "bad_response", exc.message) from exc

    async def close(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        try:
            await self._call("POST", path, {"mchid": self.settings.mchid})
        except ChannelError as exc:
            if exc.provider_code != "ORDER_NOT_EXIST":
                raise

    async def refund(self, out_trade_no: str, refund_no: str, amount_fen: int, total_fen: int) -> None:
        payload = {
            "out_trade_no": out_trade_no,
            "out_refund_no": refund_no,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        }
        data = await self._call("POST", "/v3/refund/domestic/refunds", payload)
        if data.get("status") not in ("SUCCESS", "PROCESSING"):
            raise ChannelError(self.name, str(data.get("status", "bad_response")), "refund not accepted")

    async def parse_callback(self, headers: dict[str, str], body: bytes) -> ChannelEvent:
        if self.certificates is not None:
            await self.certificates.ensure()
        await self._verify(headers, body, check_time=True)
        try:
            envelope = loads_exact(body)
            resource = envelope["resource"]
            plain = loads_exact(decrypt_resource(self.apiv3_key, resource))
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(f"callback body is not a WeChat Pay notification: {exc}") from exc
        if not isinstance(plain, dict):
            raise CallbackRejected("decrypted resource is not a JSON object")
        return self._event(plain)

    def _event(self, tx: dict[str, Any]) -> ChannelEvent:
        """A transaction object (query answer or decrypted callback) → event,
        after checking it belongs to this merchant."""
        if tx.get("mchid") != self.settings.mchid:
            raise CallbackRejected(f"mchid {str(tx.get('mchid'))[:32]!r} is not ours")
        if tx.get("appid") not in self.appids:
            raise CallbackRejected(f"appid {str(tx.get('appid'))[:32]!r} is not ours")
        state = str(tx.get("trade_state", ""))
        status = STATUS.get(state)
        if status is None:
            raise CallbackRejected(f"unknown trade_state {state[:32]!r}")
        amount = tx.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        paid = status == PaymentStatus.PAID
        return ChannelEvent(
            out_trade_no=str(tx.get("out_trade_no", "")),
            channel_trade_no=str(tx.get("transaction_id") or ""),
            # The order total, not payer_total: coupons lower what the payer pays.
            amount_fen=fen(total, "amount.total") if paid or total is not None else 0,
            status=status,
            paid_at=_parse_time(tx.get("success_time")) if paid else None,
            raw={k: v for k, v in tx.items() if k not in ("payer",)},
        )

    def ack(self, ok: bool) -> CallbackAck:
        # Success: 200 with the documented body (WeChat also accepts 200/204
        # without one). Failure: 4xx with code FAIL, so WeChat sends again.
        if ok:
            return CallbackAck(200, ACK_SUCCESS, "application/json")
        return CallbackAck(400, ACK_FAIL, "application/json")

    async def aclose(self) -> None:
        await self.client.aclose()


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise CallbackRejected("success_time missing on a paid transaction")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CallbackRejected(f"success_time {value[:40]!r} is not RFC 3339") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA)
    return parsed.astimezone(UTC)
