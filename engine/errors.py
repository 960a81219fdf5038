"""Domain errors with a stable code and an HTTP status.

Faces map these onto their own envelopes in one place; the engine never
imports the web framework.
"""

from __future__ import annotations


class UsdtPayError(Exception):
    """Base of every expected, caller-visible failure."""

    code: str = "error"
    status: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInput(UsdtPayError):
    """The request is malformed: a missing field, a wrong type, a bad amount."""

    code = "bad_input"
    status = 422


class Forbidden(UsdtPayError):
    """Unknown merchant, bad signature, or a caller outside the allowed networks."""

    code = "forbidden"
    status = 403


class NotFound(UsdtPayError):
    code = "not_found"
    status = 404


class Conflict(UsdtPayError):
    """A duplicate merchant order number with different parameters, a reused hash."""

    code = "conflict"
    status = 409


class BusinessRule(UsdtPayError):
    """Well-formed but not allowed now: order expired, amounts exhausted, ..."""

    code = "business_rule"
    status = 422


class TooManyRequests(UsdtPayError):
    code = "too_many_requests"
    status = 429


class Unavailable(UsdtPayError):
    """A dependency the request needs is not usable (stale rate, channel down)."""

    code = "unavailable"
    status = 503


class UpstreamError(UsdtPayError):
    """A provider (chain node, payment channel) answered with an error."""

    code = "upstream_error"
    status = 502


class PayloadTooLarge(UsdtPayError):
    """A request body over the size a face accepts; refused before it is
    read whole (api.http.wire)."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(UsdtPayError):
    """A body in a content type the endpoint does not document."""

    code = "unsupported_media_type"
    status = 415
