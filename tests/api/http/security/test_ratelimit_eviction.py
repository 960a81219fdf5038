"""Finding 10 (rate-limiter eviction): a flood of new source addresses
fills the limiter's table; the bucket that holds a throttled client back
must survive it (before, a full table was cleared: every limit reset).

The app runs on loopback behind the test's "nginx" with a small table
(max_keys 50) so a few hundred requests fill it."""

from __future__ import annotations

from api.http.ratelimit import RateLimiter
from engine.config import ApiSettings
from tests.api.http.security.support import live_app, nginx_headers
from tests.dbharness import Db
from tests.factories import MERCHANT_PID

FORGED = {"pid": MERCHANT_PID, "order_no": "E-1", "signature": "0" * 32}


async def test_flood_of_new_addresses_keeps_a_throttled_client_throttled(db: Db) -> None:
    api = ApiSettings(forwarded_allow_ips=["127.0.0.1"], failed_signatures_per_minute=5)
    async with live_app(db, api=api) as app, app.client() as client:
        app.state.limiter = RateLimiter(api.rate_limit_per_minute, max_keys=50)
        attacker = nginx_headers("203.0.113.9")
        first = [
            (await client.get("/api/pay/query", params=FORGED, headers=attacker)).status_code
            for _ in range(6)
        ]
        # 200 fresh addresses (one IPv6 /64 holds 2^64 of them), one request each.
        for n in range(200):
            source = nginx_headers(f"2001:db8::{n + 1:x}")
            await client.get("/api/qr.svg", params={"data": "x"}, headers=source)
        after = await client.get("/api/pay/query", params=FORGED, headers=attacker)
        size = len(app.state.limiter)
    assert first == [403] * 5 + [429]
    assert after.status_code == 429, after.text
    assert size <= 50
