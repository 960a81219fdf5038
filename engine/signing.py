"""The usdt face's MD5 signature (seed 004), and JSON that keeps number text.

Rendering rules, applied to every field except `signature`:
- a field whose value is null or the empty string is left out;
- strings are used as they are;
- numbers are their JSON text exactly as sent (`1`, `100.00`, `1e3`);
- booleans are `true` / `false`;
- objects and arrays are compact JSON (`{"a":1}`), keys in the order sent,
  non-ASCII characters as themselves.
Fields are sorted by key (byte order of ASCII), joined as `k=v` with `&`,
`&key=<merchant key>` is appended, and the MD5 of the UTF-8 bytes is written
as upper-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any


class JsonNumber(str):
    """A JSON number kept as the text it was sent as."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder per object_pairs_hook (callers pass a module function or
# None): json.loads with hooks builds a decoder and its scanner on every call.
_DECODERS: dict[Any, json.JSONDecoder] = {}


def loads_exact(data: str | bytes, *, object_pairs_hook: Any = None) -> Any:
    """json.loads that keeps numbers as their text (JsonNumber) and refuses
    NaN / Infinity."""
    decoder = _DECODERS.get(object_pairs_hook)
    if decoder is None:
        decoder = _DECODERS[object_pairs_hook] = json.JSONDecoder(
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_reject_constant,
            object_pairs_hook=object_pairs_hook,
        )
    # What json.loads does before decoding.
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
    elif isinstance(data, bytes | bytearray):
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    else:
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {data.__class__.__name__}")
    return decoder.decode(data)


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):  # str includes JsonNumber
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        return compact_json(value)
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")


def compact_json(value: Any) -> str:
    """Compact JSON that writes JsonNumber as its original text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{compact_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    raise TypeError(f"cannot render a value of type {type(value).__name__}")


def signing_string(fields: Mapping[str, Any], key: str) -> str:
    parts = [
        # A plain str (every field of a query string or form) is its own
        # rendering: render_value's type checks only for the other values.
        f"{name}={value if type(value) is str else render_value(value)}"
        for name, value in sorted(fields.items())
        if name != "signature" and value is not None and value != ""
    ]
    parts.append(f"key={key}")
    return "&".join(parts)


def md5_sign(fields: Mapping[str, Any], key: str) -> str:
    return hashlib.md5(signing_string(fields, key).encode(), usedforsecurity=False).hexdigest().upper()


def md5_verify(fields: Mapping[str, Any], key: str, signature: object) -> bool:
    """Constant-time check; letter case is ignored, nothing else is: no
    stripped whitespace, and only ASCII (str.upper() maps "ﬀ" to "FF")."""
    if not isinstance(signature, str) or not signature or not signature.isascii():
        return False
    expected = md5_sign(fields, key)
    return hmac.compare_digest(expected.encode(), signature.upper().encode())


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def ambiguous_field(fields: Mapping[str, Any], names: Iterable[str]) -> str | None:
    """The first field whose value could be re-split into other fields of
    the same signing string, or None.

    `k=v&k=v` has no escaping: a value holding `&return_url=https://…`
    signs exactly like two fields. A face that accepts only the names in
    `names` and refuses any value containing `&<name>=` for one of them (or
    `&key=`) makes the string injective: reading it left to right, the
    first `&<name>=` after a value always starts the next field, so two
    different accepted field sets never sign alike (README, the usdt face's signature).
    """
    markers: tuple[str, ...] | None = None
    for name, value in fields.items():
        if isinstance(value, str):  # JsonNumber too; the text as it signs
            text = value
        elif isinstance(value, Mapping | list | tuple):
            text = compact_json(value)
        else:  # null, booleans and integers render without "&"; other types do not sign
            continue
        # Every marker starts with "&", which most values lack: one search,
        # and the markers are only made for a value that has one.
        if "&" in text:
            markers = markers or tuple(f"&{other}=" for other in {*names, "key"})
            if any(marker in text for marker in markers):
                return name
    return None
