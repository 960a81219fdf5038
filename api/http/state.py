"""Long-lived things the app shares across requests, built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from api.http.ratelimit import RateLimiter
from bridges.registry import build_channels, close_channels
from engine.clock import Clock, SystemClock
from engine.config import OrderSettings, Settings
from engine.db import SessionFactory, create_engine, create_session_factory
from engine.fiat.channel import Channel
from engine.merchants import MerchantCache
from engine.models import Merchant, Order
from engine.orders.schemas import NewOrder
from engine.orders.service import create_order
from engine.work import WorkRunner, create_runner

# "I have paid" checks per minute: per source address and per order, and in
# all (a TRON check costs 2-3 node requests: 30/min stays far inside
# TronGrid's free daily quota even under a flood).
CLAIMS_PER_MINUTE = 5
CLAIMS_IN_ALL_PER_MINUTE = 30


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    clock: Clock
    # Whole units of work (engine.work): on SQLite, creates share commits (group commit).
    work: WorkRunner
    # Enabled fiat channels by name (bridges.registry.build_channels).
    channels: dict[str, Channel] = field(default_factory=dict)
    limiter: RateLimiter = field(init=False)
    # The cashier's "I have paid" checks (api.http.faces.payer): unsigned and
    # each costs node requests, so capped per source and per order, and in all.
    claim_limiter: RateLimiter = field(init=False)
    claim_total: RateLimiter = field(init=False)
    merchants: MerchantCache = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.api.rate_limit_per_minute)
        self.claim_limiter = RateLimiter(CLAIMS_PER_MINUTE)
        self.claim_total = RateLimiter(CLAIMS_IN_ALL_PER_MINUTE)
        self.merchants = MerchantCache()

    def now(self) -> datetime:
        return self.clock.now()

    async def create_order(
        self, merchant: Merchant, new: NewOrder, *, orders: OrderSettings | None = None
    ) -> tuple[Order, bool]:
        """Create and commit an order for any face (safe retries included);
        `orders` overrides the order settings for faces with their own terms."""
        return await create_order(
            self.work, merchant, new, settings=self.settings, clock=self.clock, orders=orders
        )


def app_lifespan(
    settings: Settings, clock: Clock | None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's long-lived parts: database engine, unit-of-work runner, channels."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        work = create_runner(settings.database_url, sessions)
        app.state.app_state = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            clock=clock or SystemClock(),
            work=work,
            channels=build_channels(settings, clock=clock),
        )
        try:
            yield
        finally:
            await close_channels(app.state.app_state.channels)
            await work.close()
            await engine.dispose()

    return lifespan


def provide_app_state(state: State) -> AppState:
    """The `app_state` dependency of every route handler."""
    value: AppState = state.app_state
    return value


def app_state_of(request: ASGIConnection[Any, Any, Any, Any]) -> AppState:
    """The same AppState, for a hot route that takes only `request`: the
    dependency costs a signature-model parse per request (~20 µs on the create path)."""
    value: AppState = request.app.state.app_state
    return value
