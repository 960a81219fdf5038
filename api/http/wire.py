"""Reading request bodies the way the faces need them: JSON (numbers kept
as text) or form-encoded, with clear errors instead of 500s."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from engine.errors import BadInput
from engine.signing import loads_exact

MAX_BODY = 64 * 1024


async def read_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The request's fields: a JSON object, a form, or (GET) the query."""
    if request.method == "GET":
        return dict(request.query_params.items())
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadInput(f"request body larger than {MAX_BODY} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise BadInput("form body is not UTF-8") from exc
    if not body.strip():
        return {}
    try:
        data = loads_exact(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"request body is not valid JSON: {str(exc)[:80]}") from exc
    if not isinstance(data, dict):
        raise BadInput("request body must be a JSON object")
    return data


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
    return request.client.host if request.client else "unknown"
