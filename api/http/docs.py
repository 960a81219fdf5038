"""/schema: the API reference, served entirely by usdtpay.

Swagger UI's script and style come from the `swagger-ui-bundle-v2` package
(Apache-2.0, its licence ships in the package's dist-info) and are served
under /schema-assets/, so the page works on a machine with no internet: no
CDN, no web fonts, no favicon from elsewhere. /schema/openapi.json is the
document itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS = "/schema-assets"
FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>"

DESCRIPTION = """\
usdtpay serves several wire formats ("faces") over one order table. Each face
answers in its own envelope, errors included (unknown paths, wrong methods,
oversized or unreadable bodies too):

- **usdt** (seed 004): `/api/pay/create`, `/api/pay/query`, `/api/pay/supplement`;
  `{"code", "msg", "data"}` with the HTTP status equal to `code`.
- **cashier** (seed 000): `/api/precreate`, `/api/cashier_info`, `/api/get_pay_params`,
  `/api/check_order`; `{"success", "msg", ...}`.
- **checkout** (seed 001): `/api/order/*`; `{"code", "msg", "data"}`.
- **dryad** (seed 002): `/api/pay/wechat/native`, `/api/pay/alipay/precreate`,
  `/api/pay/orders/*`, `/api/health`; `{"code", "msg", "data"}`.
- **quickpay** (seed 003): `/QuickPay/JSAPIPay`; `{"code": "SUCCESS" or "FAILED", "msg", "data"}`.

## Signatures

**usdt face** (every request: create, query, supplement; and the notifications usdtpay sends):

1. Take every field except `signature` whose value is not null and not the empty string
   (JSON body, form body, or the query string for GET).
2. Render each value: strings as they are; numbers as their JSON text exactly as sent
   (`1`, `100.00`); booleans `true` / `false`; objects and arrays as compact JSON
   (no spaces, keys in the order sent, non-ASCII characters as themselves).
3. Sort by field name (ASCII), join as `name=value` with `&`, append `&key=<merchant signing key>`.
4. `signature` = MD5 of the UTF-8 bytes, upper-case hex.

Example, key `test-merchant-key-0123456789abcdef`: the string
`amount=100.00&chain_type=1&currency=CNY&notify_url=https://example.com/notify&order_no=20240101000001&param={"user_id":"123"}&pid=10001&return_url=https://example.com/return&scanpay=1&type=1&key=test-merchant-key-0123456789abcdef`
signs as `025A13712E54F1E3D0B0BEBA09F5B06E`.

**quickpay face**: the same sorted `k=v&...&key=<merchant key>` MD5 in the field `sign`.

**cashier and dryad creates**: no signature in the seeds; the caller is either in
`api.trusted_networks` or sends `X-Api-Key`. **dryad callbacks** are HMAC-SHA256
signed (see the dryad operations).
"""


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=FAVICON,
    )
    return OpenAPIConfig(
        title="usdtpay",
        version="0.1.0",
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[swagger, JsonRenderPlugin(path="/openapi.json")],
    )


def assets_router() -> Any:
    from swagger_ui_bundle import swagger_ui_path

    return create_static_files_router(
        path=ASSETS,
        directories=[Path(str(swagger_ui_path))],
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
    )
