"""WeChat Pay API v3 signatures and callback decryption.

Requests: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
signature="…",timestamp="…",serial_no="…"`, the signature being
SHA256withRSA over "METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n" with the
merchant key. Responses and callbacks carry Wechatpay-Timestamp / -Nonce /
-Signature / -Serial over "TIMESTAMP\\nNONCE\\nBODY\\n", checked with the
platform public key or the platform certificate named by the serial.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridges.keys import rsa_sign, rsa_verify
from engine.fiat.channel import CallbackRejected

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# WeChat probes merchants with deliberately bad signatures that start so.
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def authorization(
    *,
    mchid: str,
    serial_no: str,
    key: rsa.RSAPrivateKey,
    method: str,
    url_path: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce_str = nonce or new_nonce()
    message = f"{method}\n{url_path}\n{ts}\n{nonce_str}\n".encode() + body + b"\n"
    signature = rsa_sign(key, message)
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{ts}",serial_no="{serial_no}"'
    )


def jsapi_params(appid: str, prepay_id: str, key: rsa.RSAPrivateKey) -> dict[str, str]:
    """What WeixinJSBridge.invoke('getBrandWCPayRequest', …) takes."""
    timestamp, nonce, package = str(int(time.time())), new_nonce(), f"prepay_id={prepay_id}"
    message = f"{appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa_sign(key, message),
    }


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, object]) -> bytes:
    """AEAD_AES_256_GCM with the APIv3 key; the tag is the ciphertext's last 16 bytes."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise CallbackRejected(f"unsupported resource algorithm {str(resource.get('algorithm'))[:40]!r}")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated = resource.get("associated_data") or ""
    if not isinstance(nonce, str) or not isinstance(ciphertext, str) or not isinstance(associated, str):
        raise CallbackRejected("callback resource lacks nonce / ciphertext")
    try:
        return AESGCM(apiv3_key).decrypt(
            nonce.encode(), base64.b64decode(ciphertext, validate=True), associated.encode() or None
        )
    except (InvalidTag, ValueError) as exc:
        raise CallbackRejected("callback resource does not decrypt with the APIv3 key") from exc


class UnknownSerial(CallbackRejected):
    """The message names a serial we hold no key for. In certificate mode
    that is the cue to download the certificate list again."""

    def __init__(self, serial: str) -> None:
        super().__init__(f"unknown platform key/certificate serial {serial[:64]!r}")
        self.serial = serial


@dataclass(frozen=True)
class PlatformVerifier:
    """Keys that may sign responses and callbacks, by serial / public key id.
    In certificate mode `keys` is the certificate store's own dict, which it
    updates in place when it downloads the list."""

    keys: Mapping[str, rsa.RSAPublicKey]
    tolerance_seconds: int

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float, check_time: bool) -> str:
        """Check a signed message; returns the serial used. Header names lower-case."""
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        signature = headers.get("wechatpay-signature", "")
        serial = headers.get("wechatpay-serial", "")
        if not (timestamp and nonce and signature and serial):
            raise CallbackRejected("missing Wechatpay-Timestamp/-Nonce/-Signature/-Serial headers")
        if signature.startswith(PROBE_PREFIX):
            raise CallbackRejected("signature probe from WeChat Pay")
        if not timestamp.isdigit():
            raise CallbackRejected("Wechatpay-Timestamp is not a number")
        if check_time and abs(now - int(timestamp)) > self.tolerance_seconds:
            raise CallbackRejected(f"Wechatpay-Timestamp {timestamp} is outside the allowed window")
        # Looked up last: only an otherwise well-formed message may make the
        # channel download certificates.
        key = self.keys.get(serial)
        if key is None:
            raise UnknownSerial(serial)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        if not rsa_verify(key, message, signature):
            raise CallbackRejected("Wechatpay-Signature does not verify")
        return serial
