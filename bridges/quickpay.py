"""QuickPay (Lianke): JSAPIPay (WeChat official account / mini program,
Alipay service window), QRPay, Query, Refund, Cancel and payment callbacks.

The public document shows bodies but not authentication. The default
scheme (`auth_scheme = "md5"`) is the common one for such gateways: every
non-empty top-level field except the signature, sorted by name, rendered as
`k=v` (nested values as compact JSON) and joined with `&`, then
`&key=<store key>`; the upper-case MD5 hex goes in the `sign` field.
Callbacks are checked the same way, and so is every answer that carries
data (an unsigned one is refused). With `auth_scheme = "none"` nothing is
signed: callbacks are then accepted only from `callback_networks` and
only as a hint, settled from what QuickPay/Query answers. Amounts are fen
on both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from bridges.http import make_client, send
from engine.clock import CHINA, Clock, SystemClock
from engine.config import QuickPaySettings
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
from engine.signing import loads_exact, render_value

log = logging.getLogger("usdtpay.bridges.quickpay")

PAYTYPE = {"wechat": 11, "alipay": 21}
STATUS = {
    "SUCCESSED": PaymentStatus.PAID,
    "SUCCESS": PaymentStatus.PAID,
    "CREATE": PaymentStatus.PENDING,
    "PAYING": PaymentStatus.PENDING,
    "UNKNOWN": PaymentStatus.PENDING,
    "FAILED": PaymentStatus.FAILED,
    "CANCELED": PaymentStatus.CLOSED,
    "CLOSED": PaymentStatus.CLOSED,
    "REFUND": PaymentStatus.REFUNDED,
}
NOT_EXIST_CODES = ("ORDER_NOT_EXIST", "NOT_EXIST", "ORDERNOTEXIST")
QR_FIELDS = ("qr_code", "qrcode", "code_url", "qr_url")


def signing_string(fields: Mapping[str, Any], key: str, sign_field: str = "sign") -> str:
    parts = [
        f"{name}={render_value(value)}"
        for name, value in sorted(fields.items())
        if name != sign_field and value is not None and value != ""
    ]
    return "&".join([*parts, f"key={key}"])


def sign(fields: Mapping[str, Any], key: str, sign_field: str = "sign") -> str:
    text = signing_string(fields, key, sign_field)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def verify(fields: Mapping[str, Any], key: str, sign_field: str = "sign") -> bool:
    """Constant-time check of `fields[sign_field]`; the quickpay face uses it too."""
    given = fields.get(sign_field)
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(sign(fields, key, sign_field).encode(), given.strip().upper().encode())


def fen(value: object, field: str) -> int:
    """QuickPay amounts are integer fen; the one conversion point."""
    text = value if isinstance(value, str) else ""  # JsonNumber or form text
    if not text.isdigit():
        raise CallbackRejected(f"{field} is not an integer amount in fen")
    return int(text)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=CHINA).astimezone(UTC)
        except ValueError:
            continue
    return None


class QuickPayChannel:
    name = "quickpay"

    def __init__(
        self,
        settings: QuickPaySettings,
        *,
        notify_url: str,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not settings.store_no:
            raise BadInput("USDTPAY_QUICKPAY__STORE_NO is required")
        if settings.auth_scheme == "md5" and not settings.store_key.get_secret_value():
            raise BadInput("USDTPAY_QUICKPAY__STORE_KEY is required with auth_scheme md5")
        if settings.auth_scheme == "none" and not settings.callback_networks:
            # Settings validation refuses this too; a channel built from
            # hand-made settings must not start open either.
            raise BadInput("USDTPAY_QUICKPAY__CALLBACK_NETWORKS is required with auth_scheme none")
        self.settings = settings
        self.notify_url = notify_url
        self.clock = clock or SystemClock()
        self.client = client or make_client(settings.api_base_url, settings.timeout_seconds)

    @property
    def _key(self) -> str:
        return self.settings.store_key.get_secret_value()

    def _signed(self, fields: dict[str, Any]) -> dict[str, Any]:
        if self.settings.auth_scheme == "md5":
            fields[self.settings.sign_field] = sign(fields, self._key, self.settings.sign_field)
        return fields

    def _check(self, fields: Mapping[str, Any]) -> bool:
        if self.settings.auth_scheme == "none":
            return True
        return verify(fields, self._key, self.settings.sign_field)

    async def _call(self, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(self._signed({"store_no": self.settings.store_no, **fields}), ensure_ascii=False)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        url = self.client.base_url.join(path)
        response = await send(
            self.client, self.name, "POST", str(url), content=body.encode(), headers=headers
        )
        if response.status_code != 200:
            hint = (
                "retry later" if response.status_code >= 500 else "check the API base URL and store settings"
            )
            code, message = f"http_{response.status_code}", response.text[:200]
            raise ChannelError(self.name, code, message, http_status=response.status_code, hint=hint)
        try:
            answer = loads_exact(response.content)
        except ValueError as exc:
            raise ChannelError(self.name, "bad_response", "answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise ChannelError(self.name, "bad_response", "answer is not a JSON object")
        raw_data = answer.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        # Whatever the gateway states about a payment must be signed: an
        # answer with data and no signature is as good as a forged one.
        if data and not self._check(data):
            raise ChannelError(self.name, "bad_signature", "response signature is missing or does not verify")
        if answer.get("code") != "SUCCESS":
            code = str(answer.get("code") or "unknown")
            message = str(answer.get("msg") or data.get("error") or data.get("message") or "")
            raise ChannelError(self.name, code, message, hint="fix the request or the store settings")
        return data

    def _order_fields(self, request: PaymentRequest) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "amount": request.amount_fen,
            "order_no": request.out_trade_no,
            "iteminfo": request.subject[:128],
            "notify_url": request.notify_url or self.notify_url,
        }
        if request.attach:
            fields["attach"] = request.attach[:127]
        return fields

    async def create(self, request: PaymentRequest) -> PaymentCreated:
        if request.kind == ClientKind.JSAPI:
            paytype = PAYTYPE.get(request.wallet, self.settings.default_paytype)
            if not request.openid or (paytype == 11 and not request.appid):
                raise BadInput("QuickPay JSAPI needs openid, and appid for WeChat (paytype 11)")
            fields = self._order_fields(request) | {
                "paytype": paytype,
                "operator": self.settings.operator,
                "openid": request.openid,
            }
            if request.appid:
                fields["appid"] = request.appid
            data = await self._call("QuickPay/JSAPIPay", fields)
            return self._jsapi_created(data)
        if request.kind in (ClientKind.QR, ClientKind.PAGE):
            data = await self._call("QuickPay/QRPay", self._order_fields(request) | {"operator": "QRPAY"})
            qr = next((data[f] for f in QR_FIELDS if isinstance(data.get(f), str) and data[f]), "")
            if not qr:
                raise ChannelError(self.name, "bad_response", "QRPay answer lacks a QR code")
            return PaymentCreated(qrcode=qr, channel_trade_no=str(data.get("transaction_no") or ""))
        raise BadInput("QuickPay has no mobile-browser (H5) payment; use jsapi or qr")

    def _jsapi_created(self, data: dict[str, Any]) -> PaymentCreated:
        param = data.get("cloudpay_param")
        if not isinstance(param, str) or not param:
            raise ChannelError(self.name, "bad_response", "JSAPIPay answer lacks cloudpay_param")
        try:
            parsed = json.loads(param)
        except ValueError:
            parsed = None
        jsapi = parsed if isinstance(parsed, dict) else {"cloudpay_param": param}
        return PaymentCreated(jsapi=jsapi, channel_trade_no=str(data.get("transaction_no") or ""))

    async def query(self, out_trade_no: str) -> ChannelEvent | None:
        try:
            data = await self._call("QuickPay/Query", {"order_no": out_trade_no})
        except ChannelError as exc:
            if exc.provider_code in NOT_EXIST_CODES:
                return None
            raise
        try:
            return self._event(data)
        except CallbackRejected as exc:
            raise ChannelError(self.name, "bad_response", exc.message) from exc

    async def close(self, out_trade_no: str) -> None:
        try:
            await self._call(
                "QuickPay/Cancel", {"order_no": out_trade_no, "operator": self.settings.operator}
            )
        except ChannelError as exc:
            if exc.provider_code not in NOT_EXIST_CODES:
                raise

    async def refund(self, out_trade_no: str, refund_no: str, amount_fen: int, total_fen: int) -> None:
        fields = {
            "operator": self.settings.operator,
            "amount": total_fen,
            "refund_amount": amount_fen,
            "order_no": out_trade_no,
            "refund_no": refund_no,
        }
        await self._call("QuickPay/Refund", fields)

    async def parse_callback(self, headers: dict[str, str], body: bytes) -> ChannelEvent:
        fields = _callback_fields(headers, body)
        if not self._check(fields):
            raise CallbackRejected("callback signature does not verify with the store key")
        if fields.get("store_no") != self.settings.store_no:
            raise CallbackRejected(f"store_no {str(fields.get('store_no'))[:32]!r} is not ours")
        event = self._event(fields)
        if self.settings.auth_scheme == "none":
            return await self._confirmed(event)
        return event

    async def _confirmed(self, claimed: ChannelEvent) -> ChannelEvent:
        """An unsigned callback is only a hint: what counts is the gateway's
        own answer to QuickPay/Query, which must agree with the callback."""
        try:
            event = await self.query(claimed.out_trade_no)
        except ChannelError as exc:
            reason = f"unsigned callback not confirmed: the query failed ({exc.message})"
            raise CallbackRejected(reason) from exc
        if event is None:
            raise CallbackRejected(f"unsigned callback for unknown payment {claimed.out_trade_no[:64]!r}")
        same = (event.status, event.channel_trade_no, event.amount_fen) == (
            claimed.status,
            claimed.channel_trade_no,
            claimed.amount_fen,
        )
        if not same:
            raise CallbackRejected(
                f"unsigned callback for {claimed.out_trade_no[:64]!r} says {claimed.status}, "
                f"QuickPay/Query says {event.status}; nothing changed"
            )
        return event

    def _event(self, data: Mapping[str, Any]) -> ChannelEvent:
        state = str(data.get("transaction_status", ""))
        status = STATUS.get(state)
        if status is None:
            raise CallbackRejected(f"unknown transaction_status {state[:32]!r}")
        paid = status == PaymentStatus.PAID
        total = data.get("total_amount")
        return ChannelEvent(
            out_trade_no=str(data.get("order_no", "")),
            channel_trade_no=str(data.get("transaction_no") or ""),
            amount_fen=fen(total, "total_amount") if paid or total not in (None, "") else 0,
            status=status,
            paid_at=(parse_time(data.get("transaction_time")) or self.clock.now()) if paid else None,
            raw={k: v for k, v in data.items() if k != self.settings.sign_field},
        )

    def ack(self, ok: bool) -> CallbackAck:
        # The document: answer "OK" (or "SUCCESS"); anything else is retried.
        return CallbackAck(200, b"OK" if ok else b"FAIL", "text/plain")

    async def aclose(self) -> None:
        await self.client.aclose()


def _callback_fields(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Callbacks come as JSON (like the API) or, from some gateways, as a form."""
    content_type = headers.get("content-type", "")
    try:
        if "json" in content_type or body.lstrip().startswith(b"{"):
            data = loads_exact(body)
        else:
            data = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("callback body is neither JSON nor a form") from exc
    if not isinstance(data, dict):
        raise CallbackRejected("callback body is not an object")
    return data
