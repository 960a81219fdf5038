"""The one interface every fiat channel implements.

Faces and the engine talk to WeChat Pay, Alipay and QuickPay only through
`Channel`; wire formats, keys and amount units stay inside each bridge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from engine.errors import Forbidden, UpstreamError


class ClientKind(StrEnum):
    QR = "qr"  # a code to scan (WeChat Native, Alipay precreate)
    H5 = "h5"  # mobile browser: pay URL / app scheme
    PAGE = "page"  # desktop browser pay page (Alipay page.pay)
    JSAPI = "jsapi"  # inside WeChat / Alipay: signed params for the JS bridge


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CLOSED = "closed"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class PaymentRequest:
    out_trade_no: str  # our id for this payment at the channel
    amount_fen: int
    subject: str
    kind: ClientKind
    expires_at: datetime
    notify_url: str
    client_ip: str = "127.0.0.1"
    openid: str = ""  # JSAPI payer id
    appid: str = ""
    return_url: str = ""
    attach: str = ""
    # Which wallet the payer uses when one channel serves several
    # (QuickPay: "wechat" → paytype 11, "alipay" → 21); empty = the default.
    wallet: str = ""


@dataclass(frozen=True)
class PaymentCreated:
    """What the payer needs; only the fields that apply are set."""

    qrcode: str = ""  # content to render as a QR code (code_url / qr_code)
    payurl: str = ""  # a URL to open (H5 / page pay)
    urlscheme: str = ""  # an app scheme (weixin:// / alipays://)
    jsapi: dict[str, Any] = field(default_factory=dict)  # params for the in-app JS bridge
    channel_trade_no: str = ""


@dataclass(frozen=True)
class ChannelEvent:
    """A verified statement from the channel about one payment."""

    out_trade_no: str
    channel_trade_no: str
    amount_fen: int
    status: PaymentStatus
    paid_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackAck:
    """The exact HTTP answer the provider expects."""

    status_code: int
    body: bytes
    content_type: str = "text/plain"


class ChannelError(UpstreamError):
    """The provider refused or failed a call. `code` is the provider's own
    error code (e.g. PARAM_ERROR, ACQ.TRADE_NOT_EXIST), or `timeout` /
    `unreachable` / `http_<status>` / `bad_response` when it gave none."""

    def __init__(
        self, channel: str, code: str, message: str, *, http_status: int | None = None, hint: str = ""
    ) -> None:
        text = f"{channel} answered {code}: {message}" if message else f"{channel} answered {code}"
        super().__init__(f"{text}; {hint}" if hint else text, code=code)
        self.channel = channel
        self.provider_code = code
        self.provider_message = message
        self.http_status = http_status


class CallbackRejected(Forbidden):
    """A callback that failed verification (signature, decryption, time,
    merchant/app id); nothing was changed."""

    code = "callback_rejected"


class Channel(Protocol):
    name: str  # wechat | alipay | quickpay

    async def create(self, request: PaymentRequest) -> PaymentCreated: ...

    async def query(self, out_trade_no: str) -> ChannelEvent | None:
        """The channel's view of a payment; None when it does not know it (yet)."""
        ...

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid payment; a payment the channel does not know counts as closed."""
        ...

    async def refund(self, out_trade_no: str, refund_no: str, amount_fen: int, total_fen: int) -> None: ...

    async def parse_callback(self, headers: dict[str, str], body: bytes) -> ChannelEvent:
        """Verify (signature, decryption, app id) then parse; raise
        CallbackRejected on anything off. Header names are lower-case."""
        ...

    def ack(self, ok: bool) -> CallbackAck: ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
