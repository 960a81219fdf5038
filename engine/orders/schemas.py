"""What a face hands the order service, and the unified statuses."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    FAILED = "failed"
    CLOSED = "closed"


class Currency(StrEnum):
    CNY = "CNY"
    USDT = "USDT"


CHAINS = ("tron", "eth")
CHANNELS = ("wechat", "alipay", "quickpay")


@dataclass(frozen=True)
class NewOrder:
    """A validated create request, in integer units.

    `amount_units` is fen for CNY and USDT atomic units for USDT. `chain`
    is set for on-chain orders; `channel` for fiat orders; neither when the
    payer picks later (the cashier face).
    """

    face: str
    merchant_order_no: str
    currency: Currency
    amount_units: int
    chain: str | None = None
    channel: str | None = None
    subject: str = ""
    notify_url: str = ""
    return_url: str = ""
    param: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Trusted by the client's network only (no key, no signature): such
    # orders have their own order-number space (engine.models.Order).
    open_create: bool = False

    def fingerprint(self) -> str:
        """Stable digest of everything the merchant asked for: a retried
        create with the same fingerprint returns the original order. (The
        number space is not asked for: it keeps digests of older orders.)"""
        text = _canonical(self)
        if text is None:
            text = _CANONICAL.encode({name: getattr(self, name) for name in _FINGERPRINTED})
        return hashlib.sha256(text.encode()).hexdigest()


# What json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
# writes, with the encoder made once (json.dumps makes one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_FINGERPRINTED = tuple(name for name in NewOrder.__dataclass_fields__ if name != "open_create")
_SORTED = tuple((name, json.dumps(name) + ":") for name in sorted(_FINGERPRINTED))
_STRING = json.encoder.encode_basestring_ascii


def _canonical(new: NewOrder) -> str | None:
    """_CANONICAL's text of the fingerprinted fields, written field by field
    for the types a create has (half the cost of building and encoding a
    dict on every create); None for any other value, which _CANONICAL writes."""
    parts = []
    for name, key in _SORTED:
        value = getattr(new, name)
        if isinstance(value, str):  # a StrEnum too: JSON writes its text
            parts.append(key + _STRING(value))
        elif value is None:
            parts.append(key + "null")
        elif type(value) is int:
            parts.append(key + int.__repr__(value))
        elif type(value) is dict:
            parts.append(key + _CANONICAL.encode(value))
        else:
            return None
    return "{" + ",".join(parts) + "}"
