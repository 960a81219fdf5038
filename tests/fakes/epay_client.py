"""A shop's EPay V1 (彩虹易支付) side, written from the protocol as shop
plugins implement it (the EPay PHP SDK's paraFilter / argSort /
createLinkstring / md5Sign), not from usdtpay's code: nothing here imports
engine or api.

    params = signed({"pid": "10001", "type": "alipay", ...}, KEY)
    verify(notification_query_fields, KEY)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def para_filter(params: Mapping[str, str]) -> dict[str, str]:
    """Drop sign, sign_type and empty values (PHP `$val == ""` on strings)."""
    return {k: v for k, v in params.items() if k not in ("sign", "sign_type") and v != ""}


def link_string(params: Mapping[str, str]) -> str:
    """ksort (byte order of the keys), then k=v joined by &, nothing encoded."""
    ordered = sorted(params.items(), key=lambda item: item[0].encode("utf-8"))
    return "&".join(f"{k}={v}" for k, v in ordered)


def md5_sign(params: Mapping[str, str], key: str, mode: str = "plain") -> str:
    prestr = link_string(para_filter(params))
    prestr = prestr + key if mode == "plain" else prestr + "&key=" + key
    return hashlib.md5(prestr.encode("utf-8")).hexdigest()


def signed(params: Mapping[str, str], key: str, mode: str = "plain") -> dict[str, str]:
    out = dict(params)
    out["sign"] = md5_sign(params, key, mode)
    out["sign_type"] = "MD5"
    return out


def verify(params: Mapping[str, str], key: str, mode: str = "plain") -> bool:
    given = params.get("sign", "")
    return bool(given) and hmac.compare_digest(md5_sign(params, key, mode), given)
