"""The signing, verification, decryption and amount pieces of the bridges,
checked against independent computations."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridges import alipay, quickpay
from bridges.keys import load_private_key, load_public_key, rsa_sign, rsa_verify
from bridges.wechat.crypto import PlatformVerifier, authorization, decrypt_resource
from engine.errors import Unavailable
from engine.fiat.channel import CallbackRejected
from tests.fakes.fiat_http import private_pem, public_pem
from tests.fakes.fiat_keys import rsa_key


def test_keys_load_from_pem_text_path_and_bare_base64(tmp_path: Path) -> None:
    key = rsa_key("alipay-app")
    path = tmp_path / "key.pem"
    path.write_text(private_pem(key))
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for value in (private_pem(key), str(path), base64.b64encode(der).decode()):
        loaded = load_private_key(value, "SETTING")
        assert loaded.private_numbers() == key.private_numbers()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for value in (public_pem(key.public_key()), base64.b64encode(public_der).decode()):
        assert load_public_key(value, "SETTING").public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "value", ["", "not a key at all!", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_bad_key_settings_name_the_setting(value: str) -> None:
    with pytest.raises(Unavailable, match="USDTPAY_X__KEY"):
        load_private_key(value, "USDTPAY_X__KEY")


def test_rsa_sign_is_sha256_with_rsa_pkcs1() -> None:
    key = rsa_key("wechat-merchant")
    signature = rsa_sign(key, b"message")
    key.public_key().verify(base64.b64decode(signature), b"message", padding.PKCS1v15(), hashes.SHA256())
    assert rsa_verify(key.public_key(), b"message", signature)
    assert not rsa_verify(key.public_key(), b"messagE", signature)
    assert not rsa_verify(key.public_key(), b"message", "%%%")


def test_wechat_authorization_header_signs_the_documented_message() -> None:
    key = rsa_key("wechat-merchant")
    header = authorization(
        mchid="1900009191",
        serial_no="ABC",
        key=key,
        method="POST",
        url_path="/v3/pay/transactions/native",
        body=b'{"a":1}',
        timestamp=1554208460,
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    scheme, _, params = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert {k: v.strip('"') for k, v in fields.items() if k != "signature"} == {
        "mchid": "1900009191",
        "nonce_str": "593BEC0C930BF1AFEB40B4A08C8FB242",
        "timestamp": "1554208460",
        "serial_no": "ABC",
    }
    message = b'POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"a":1}\n'
    signature = base64.b64decode(fields["signature"].strip('"'))
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def _signed_headers(body: bytes, timestamp: int, serial: str = "PUB_KEY_ID_1") -> dict[str, str]:
    message = f"{timestamp}\nnonce\n".encode() + body + b"\n"
    return {
        "wechatpay-timestamp": str(timestamp),
        "wechatpay-nonce": "nonce",
        "wechatpay-signature": rsa_sign(rsa_key("wechat-platform"), message),
        "wechatpay-serial": serial,
    }


def test_platform_verifier_checks_serial_signature_and_time() -> None:
    verifier = PlatformVerifier(
        {"PUB_KEY_ID_1": rsa_key("wechat-platform").public_key()}, tolerance_seconds=300
    )
    now = int(time.time())
    body = b'{"id":"EV-1"}'
    assert verifier.verify(_signed_headers(body, now), body, now=now, check_time=True) == "PUB_KEY_ID_1"
    with pytest.raises(CallbackRejected, match="window"):
        verifier.verify(_signed_headers(body, now - 301), body, now=now, check_time=True)
    with pytest.raises(CallbackRejected, match="serial"):
        verifier.verify(_signed_headers(body, now, "PUB_KEY_ID_2"), body, now=now, check_time=True)
    with pytest.raises(CallbackRejected, match="does not verify"):
        verifier.verify(_signed_headers(body, now), body + b" ", now=now, check_time=True)
    probe = _signed_headers(body, now) | {"wechatpay-signature": "WECHATPAY/SIGNTEST/abc"}
    with pytest.raises(CallbackRejected, match="probe"):
        verifier.verify(probe, body, now=now, check_time=True)


def test_resource_decryption_is_aes_256_gcm_with_associated_data() -> None:
    key = b"a7cde1ef41b8d0b3a2a6f0f8e5c4d3b2"
    sealed = AESGCM(key).encrypt(b"0123456789ab", b'{"trade_state":"SUCCESS"}', b"transaction")
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": "0123456789ab",
        "associated_data": "transaction",
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    assert json.loads(decrypt_resource(key, resource)) == {"trade_state": "SUCCESS"}
    with pytest.raises(CallbackRejected):
        decrypt_resource(key, resource | {"associated_data": "refund"})
    with pytest.raises(CallbackRejected):
        decrypt_resource(b"b" * 32, resource)


def test_alipay_amounts_convert_in_one_place() -> None:
    assert (
        alipay.to_yuan(1) == "0.01"
        and alipay.to_yuan(10000) == "100.00"
        and alipay.to_yuan(123456789) == "1234567.89"
    )
    assert alipay.to_fen("88.88", "total_amount") == 8888 and alipay.to_fen("100", "x") == 10000
    for bad in ("88.888", "1e2", "-1.00", "abc", 88.88):
        with pytest.raises(CallbackRejected):
            alipay.to_fen(bad, "total_amount")


def test_alipay_sign_content_and_exact_response_text() -> None:
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": ""}
    assert alipay.sign_content(params, exclude=("sign",), skip_empty=True) == b"a=1&b=2&sign_type=RSA2"
    assert alipay.sign_content(params, exclude=("sign", "sign_type"), skip_empty=False) == b"a=1&b=2&empty="
    text = (
        '{"alipay_trade_query_response": {"code":"10000","total_amount":"8.80","x":{"y":[1,2]}},"sign":"S"}'
    )
    found = alipay.response_content(text, "alipay_trade_query_response")
    assert found is not None
    content, value = found
    assert content == '{"code":"10000","total_amount":"8.80","x":{"y":[1,2]}}'
    assert value["total_amount"] == "8.80"
    assert alipay.response_content(text, "error_response") is None


def test_quickpay_md5_signature_matches_an_independent_computation() -> None:
    fields = {
        "store_no": "S1",
        "amount": 100,
        "order_no": "O1",
        "iteminfo": "",
        "share_pay": False,
        "itemlist": [{"a": 1}],
    }
    expected_text = 'amount=100&itemlist=[{"a":1}]&order_no=O1&share_pay=false&store_no=S1&key=K'
    assert quickpay.signing_string(fields, "K") == expected_text
    signature = hashlib.md5(expected_text.encode()).hexdigest().upper()
    assert quickpay.sign(fields, "K") == signature
    assert quickpay.verify(fields | {"sign": signature.lower()}, "K")
    assert not quickpay.verify(fields | {"sign": signature, "amount": 101}, "K")
    assert not quickpay.verify(fields, "K")


def test_a_long_base64_value_is_not_mistaken_for_an_unreadable_path() -> None:
    from bridges.keys import _is_file

    # One 400-character "path component" makes the file system answer
    # ENAMETOOLONG; that must read as "not a file" so base64 decoding runs.
    assert _is_file("A" * 400) is False
