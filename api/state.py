"""Long-lived things the app shares across requests, built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.ratelimit import RateLimiter
from bridges.base import Channel
from engine.clock import Clock
from engine.config import Settings
from engine.db import SessionFactory
from engine.merchants import MerchantCache
from engine.models import Merchant, Order
from engine.orders.schemas import NewOrder
from engine.orders.service import create_order_committed
from engine.rates.service import current_quote


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    clock: Clock
    # Enabled fiat channels by name (bridges.registry.build_channels).
    channels: dict[str, Channel] = field(default_factory=dict)
    limiter: RateLimiter = field(init=False)
    merchants: MerchantCache = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.api.rate_limit_per_minute)
        self.merchants = MerchantCache()

    def now(self) -> datetime:
        return self.clock.now()

    async def rate(self, session: AsyncSession) -> Decimal:
        return (await current_quote(session, self.settings, self.now())).rate

    async def create_order(self, merchant: Merchant, new: NewOrder) -> tuple[Order, bool]:
        """Create and commit an order for any face (safe retries included)."""
        return await create_order_committed(
            self.sessions, merchant, new, settings=self.settings.orders, rate_lookup=self.rate, now=self.now()
        )
