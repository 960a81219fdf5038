"""Reading request bodies the way the faces need them: JSON (numbers kept
as text) or form-encoded, with clear errors instead of 500s.

A body is read as a stream and refused as soon as it passes MAX_BODY (a
`Content-Length` over it is refused before anything is read), and JSON
nested deeper than MAX_DEPTH is refused before it is parsed, so no request
can make the parser, the signature code or a traceback recurse without
bound (issue 12, finding 4).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Set
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.exceptions import ClientException, InternalServerException
from litestar.types import Empty

from api.http.client_address import client_of
from engine.errors import BadInput, PayloadTooLarge, UnsupportedMediaType
from engine.signing import ambiguous_field, loads_exact

MAX_BODY = 64 * 1024
# Objects and arrays inside one another; the deepest documented body (a
# QuickPay itemlist of ItemInfo objects) is 3.
MAX_DEPTH = 16

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


async def read_body(request: Request[Any, Any, Any], limit: int = MAX_BODY) -> bytes:
    """The body, read chunk by chunk; PayloadTooLarge once it passes `limit`."""
    announced = _header(request, b"content-length")
    if announced.strip().isdigit() and int(announced) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    if announced.isdigit() and request.is_connected and getattr(request, "_body", None) is Empty:
        return await _receive_body(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientException as exc:  # Litestar's own limit (app request_max_body_size)
        if exc.status_code == 413:
            raise PayloadTooLarge(f"request body larger than {limit} bytes") from exc
        raise
    return b"".join(chunks)


async def _receive_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """What request.stream() does for a body nobody has read yet, under the
    route's limit as well, without building the header map for its
    Content-Length and without an async generator (together ~4 % of a
    create's CPU). A Content-Length that is not a number, a body already
    read or a closed connection go through request.stream(), as before."""
    route_limit = request.route_handler.resolve_request_max_body_size()
    if route_limit is not None and route_limit < limit:
        limit_here = route_limit
        if int(_header(request, b"content-length")) > limit_here:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
    else:
        limit_here = limit
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit_here:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
    request.is_connected = False
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _header(request: Request[Any, Any, Any], name: bytes) -> str:
    """The first value of header `name` (lower case), "" when absent: read
    from the ASGI scope, without building Litestar's header map."""
    for key, value in request.scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """BadInput when objects/arrays nest deeper than `limit` (brackets inside
    strings do not count); linear in the body, no recursion."""
    if body.count(b"[") + body.count(b"{") <= limit:  # cannot nest deeper than it opens
        return
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise BadInput(f"request body nests objects or arrays deeper than {limit} levels")
        else:
            depth -= 1


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A dict of `pairs`, refusing a name given twice: parsers differ on
    which copy wins, so a signature could cover one and the code read the other."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            raise BadInput(f"field {name[:40]!r} is given more than once")
        fields[name] = value
    return fields


def parse_json_object(body: bytes, *, strict: bool = False) -> dict[str, Any]:
    check_depth(body)
    try:
        data = loads_exact(body, object_pairs_hook=_unique if strict else None)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput(f"request body is not valid JSON: {str(exc)[:80]}") from exc
    if not isinstance(data, dict):
        raise BadInput("request body must be a JSON object")
    return data


async def read_fields(
    request: Request[Any, Any, Any], *, allowed: Collection[str] | None = None, signed: bool = False
) -> dict[str, Any]:
    """The request's fields: a JSON object, a form, or (GET) the query.

    With `allowed` (the endpoint's documented fields), any other field and
    any field given twice is refused; with `signed` (the MD5 `k=v&...`
    scheme), so is a value that would sign like other fields
    (engine.signing.ambiguous_field; issue 12, finding 9)."""
    strict = allowed is not None
    fields = await _raw_fields(request, strict)
    if allowed is not None and not fields.keys() <= _as_set(allowed):
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise BadInput(
                f"unknown field {unknown[0][:40]!r}; this endpoint takes {', '.join(sorted(allowed))}"
            )
    if signed:
        name = ambiguous_field(fields, allowed if allowed is not None else fields)
        if name is not None:
            raise BadInput(
                f"{name} contains '&' followed by a field name and '=', which would sign like a "
                "different set of fields; rename that URL parameter or percent-encode the '&' (%26)"
            )
    return fields


def _as_set(names: Collection[str]) -> Set[str]:
    return names if isinstance(names, Set) else set(names)


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The query's (name, value) pairs in the order sent: the pairs of
    Litestar's `request.query_params.multi_items()` (urllib's parse_qsl of
    the latin-1 text, blank values kept), which come in the order of a set
    of the names instead (it differs from process to process), without the
    MultiDict and the cache behind it (a signed query is almost never sent
    twice). A query with no escape (`%`) or `+` splits as parse_qsl would."""
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, separator="&")
    pairs = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


async def _raw_fields(request: Request[Any, Any, Any], strict: bool) -> dict[str, Any]:
    if request.method == "GET":
        if strict:
            return _unique(query_pairs(request.scope.get("query_string", b"")))
        return dict(request.query_params.items())
    body = await read_body(request)
    content_type = _header(request, b"content-type").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        if body.lstrip()[:1] in (b"{", b"["):
            # `curl -d '{...}'` sends JSON labelled as a form: say so instead
            # of reading one odd form field and reporting "pid is missing".
            raise UnsupportedMediaType(
                "the body is JSON but Content-Type is application/x-www-form-urlencoded "
                "(curl -d sends that); send Content-Type: application/json"
            )
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise BadInput("form body is not UTF-8") from exc
        return _unique(form) if strict else dict(form)
    if not body.strip():
        return {}
    return parse_json_object(body, strict=strict)


def text_field(fields: dict[str, Any], name: str, *, required: bool = True, max_len: int = 256) -> str:
    """A field as text. Numbers are accepted as their text (pid: 10001)."""
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(f"{name} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if len(value) > max_len:
        raise BadInput(f"{name} is longer than {max_len} characters")
    return value


def int_field(
    fields: dict[str, Any], name: str, *, default: int | None = None, choices: tuple[int, ...] = ()
) -> int:
    value = fields.get(name)
    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is required")
        return default
    text = value if isinstance(value, str) else ""
    if isinstance(value, bool) or not text.strip().lstrip("-").isdigit() or len(text) > 18:
        raise BadInput(f"{name} must be an integer")
    number = int(text)
    if choices and number not in choices:
        raise BadInput(f"{name} must be one of {', '.join(map(str, choices))}")
    return number


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The client's address: the direct peer, or the one a configured proxy
    names (api.http.client_address); "unknown" when there is none."""
    return client_of(request).address()
