"""The cashier page and its assets, served by usdtpay itself (no CDN).

`/cashier.html` is the URL the usdt and cashier faces hand out; `/static/*`
holds its script, style and logo; `/api/qr.svg?data=` renders QR codes on
the server with segno so the page needs no QR library of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from api.http import qr_render
from api.http.client_address import client_source
from api.http.faces import openapi_doc as doc
from api.http.faces import payer
from api.http.state import AppState

STATIC_DIR = Path(__file__).resolve().parent / "static"
QR_MAX_CHARS = 2048

# Everything the page loads comes from usdtpay; an operator may point the
# logo at their own https host, so images alone may also come from https.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; "
    # No other site may frame the page and overlay it (clickjacking a payer
    # into paying); X-Frame-Options says the same to browsers without CSP 2.
    "frame-ancestors 'none'"
)


def _text(status: int, message: str) -> Response[str]:
    return Response(message + "\n", status_code=status, media_type="text/plain")


def page_language(request: Request[Any, Any, Any]) -> str:
    """zh or en: `?lang=` first, then the best of Accept-Language (its q
    values honoured); Chinese when neither says."""
    asked = request.query_params.get("lang", "")
    if asked in ("zh", "en"):
        return asked
    best, best_q = "zh", 0.0
    for part in request.headers.get("accept-language", "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("zh", "en") and q > best_q:
            best, best_q = primary, q
    return best


HTML_TAG = b'<html lang="zh-CN">'


@get("/cashier.html", operation_id="cashierPage", summary="The cashier page", include_in_schema=False)
async def cashier_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The page itself, in the payer's language: never cached, so a deploy
    changes it at once."""
    body = (STATIC_DIR / "cashier.html").read_bytes()
    if page_language(request) == "en":
        body = body.replace(HTML_TAG, b'<html lang="en">', 1)
    return Response(
        body,
        media_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Vary": "Accept-Language",
        },
    )


@get(
    "/api/qr.svg",
    operation_id="qrSvg",
    summary="A QR code (SVG) of `data`, for the cashier page",
    description=f"`data` is the text to encode, at most {QR_MAX_CHARS} characters.",
    tags=["cashier page"],
    operation_class=doc.svg_answer(
        parameters=[doc.query("data", doc.string("the text to encode", max_length=QR_MAX_CHARS))],
        errors={400: "data missing, too long, or does not fit a QR code", 429: "too many QR requests"},
    ),
)
async def qr_svg(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    values = request.query_params.getall("data", [])
    data = values[0] if values else ""
    if not data:
        return _text(400, "data is required: /api/qr.svg?data=<text to encode>")
    if len(data) > QR_MAX_CHARS or len(data.encode()) > qr_render.MAX_BYTES:
        return _text(
            400,
            f"data is longer than {QR_MAX_CHARS} characters or {qr_render.MAX_BYTES} UTF-8 bytes "
            "and does not fit a readable QR code; encode a shorter URL",
        )
    if not app_state.limiter.allow(f"qr:{client_source(request)}"):
        return _text(429, "too many QR requests; retry in a minute")
    try:
        # Off the event loop, bounded, cached by content (api.http.qr_render).
        svg = await qr_render.RENDERER.svg(data)
    except qr_render.QrTooLong:
        return _text(400, "data does not fit in a QR code; encode a shorter URL")
    except qr_render.QrBusy:
        return _text(503, "busy drawing QR codes; retry in a moment")
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def routers() -> list[Any]:
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=300, public=True),
        include_in_schema=False,
    )
    page = Router(path="/", route_handlers=[cashier_page, qr_svg])
    return [page, static, payer.router()]
