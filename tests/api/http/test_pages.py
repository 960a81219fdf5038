"""The cashier page, its assets and the QR endpoint, through the real app."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import segno
from litestar.testing import AsyncTestClient

from api.http.pages import STATIC_DIR


class _Refs(HTMLParser):
    """Every URL the page itself loads (scripts, styles, images, icons)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            value = values.get(name)
            if value and (tag in ("script", "img") or (tag == "link" and name == "href")):
                self.urls.append(value)


def qr_matrix_from_svg(svg: str) -> list[list[bool]]:
    """Rebuild the module grid from segno's SVG path (relative moves and
    horizontal runs), so the test checks what the image encodes."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    path = re.search(r'<path[^>]*class="qrline"[^>]* d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, a, b in re.findall(r"([mMhH])\s*(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if op in "mM":
            x, y = (x + float(a), y + float(b)) if op == "m" else (float(a), float(b))
        else:
            end = x + float(a) if op == "h" else float(a)
            for col in range(int(min(x, end)), int(max(x, end))):
                grid[int(y - 0.5)][col] = True
            x = end
    return grid


def expected_matrix(data: str, border: int = 2) -> list[list[bool]]:
    code = segno.make(data, error="m", micro=False)
    return [[bool(v) for v in row] for row in code.matrix_iter(border=border)]


async def test_page_is_served_with_a_strict_policy(client: AsyncTestClient) -> None:
    resp = await client.get("/cashier.html?orderId=123")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert resp.headers["cache-control"] == "no-store"
    assert resp.text == (STATIC_DIR / "cashier.html").read_text(encoding="utf-8")


async def test_everything_the_page_loads_is_served_by_usdtpay(client: AsyncTestClient) -> None:
    parser = _Refs()
    parser.feed((await client.get("/cashier.html")).text)
    assert parser.urls, "the page references no assets"
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not served by usdtpay"
        resp = await client.get(url)
        assert resp.status_code == 200, url
    scripts = [url for url in parser.urls if url.endswith(".js")]
    assert "/static/cashier.js" in scripts and len(scripts) > 1  # split into parts, each loaded by the page
    for url in scripts:  # no script fetches anything from another host
        js = (await client.get(url)).text
        assert "http://" not in js.replace("https?:\\/\\/", "") and "https://" not in js, url


async def test_static_assets_have_their_types_and_no_traversal(client: AsyncTestClient) -> None:
    types = {"cashier.js": "javascript", "cashier.css": "text/css", "logo.svg": "image/svg+xml"}
    for name, media in types.items():
        resp = await client.get(f"/static/{name}")
        assert resp.status_code == 200 and media in resp.headers["content-type"], name
    assert (await client.get("/static/../app.py")).status_code == 404
    assert (await client.get("/static/%2e%2e/app.py")).status_code == 404
    assert (await client.get("/static/missing.js")).status_code == 404


async def test_qr_svg_encodes_exactly_the_data_given(client: AsyncTestClient) -> None:
    data = "alipays://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2Fbax1"
    resp = await client.get(f"/api/qr.svg?data={quote(data, safe='')}")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("image/svg+xml")
    assert qr_matrix_from_svg(resp.text) == expected_matrix(data)
    other = await client.get("/api/qr.svg?data=TXYZ")
    assert qr_matrix_from_svg(other.text) == expected_matrix("TXYZ")
    assert qr_matrix_from_svg(other.text) != qr_matrix_from_svg(resp.text)


async def test_qr_svg_unicode_text(client: AsyncTestClient) -> None:
    data = "订单 13.890001 USDT"
    resp = await client.get("/api/qr.svg", params={"data": data})
    assert resp.status_code == 200
    assert qr_matrix_from_svg(resp.text) == expected_matrix(data)


async def test_qr_svg_rejects_missing_and_oversized_data_clearly(client: AsyncTestClient) -> None:
    missing = await client.get("/api/qr.svg")
    assert missing.status_code == 400 and "data is required" in missing.text
    empty = await client.get("/api/qr.svg?data=")
    assert empty.status_code == 400
    big = await client.get("/api/qr.svg", params={"data": "x" * 2049})
    assert big.status_code == 400 and "2048" in big.text
    # Fits the length limit but not a QR code (binary capacity at level M is 2331 bytes).
    wide = await client.get("/api/qr.svg", params={"data": "订" * 2000})
    assert wide.status_code == 400 and "does not fit" in wide.text
