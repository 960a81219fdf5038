"""/api/health (dryad face) turns DEGRADED when a watcher lags or the rate
ages past the ops thresholds, and says which threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.chain import Heads
from engine.clock import ManualClock
from engine.config import OpsSettings, Settings, TronSettings
from engine.models import RateSnapshot
from engine.settlement import init_cursor, record_heads
from tests.dbharness import Db

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def health(db: Db, settings: Settings, clock: ManualClock) -> dict:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        resp = await client.get("/api/health")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def cursor_at(db: Db, next_block: int, final: int) -> None:
    async with db.sessions() as session:
        await init_cursor(session, "tron", next_block, T0)
        await record_heads(session, "tron", Heads(head=final + 19, final=final), T0)
        await session.commit()


async def test_watcher_lag_thresholds(db: Db) -> None:
    clock = ManualClock(T0)
    ops = OpsSettings(lag_seconds_degraded=600, lag_blocks_degraded={"tron": 150})
    settings = Settings(database_url=db.url, rate_fixed="7.2", tron=TronSettings(enabled=True), ops=ops)  # type: ignore[arg-type]
    await cursor_at(db, 1000, 1100)  # 101 blocks behind: 303 s
    data = await health(db, settings, clock)
    tron = data["watchers"]["chains"]["tron"]
    assert data["status"] == "UP" and (tron["lag_blocks"], tron["lag_seconds"]) == (101, 303)

    settings.ops.lag_seconds_degraded = 300
    data = await health(db, settings, clock)
    tron = data["watchers"]["chains"]["tron"]
    assert data["status"] == "DEGRADED" and tron["status"] == "DEGRADED"
    assert "101 final blocks" in tron["message"] and "ops.lag_seconds_degraded" in tron["message"]

    settings.ops.lag_seconds_degraded = 600
    settings.ops.lag_blocks_degraded = {"tron": 100}
    assert (await health(db, settings, clock))["watchers"]["status"] == "DEGRADED"


async def test_rate_age_threshold(db: Db) -> None:
    clock = ManualClock(T0)
    settings = Settings(database_url=db.url, ops=OpsSettings(rate_age_degraded_seconds=300))
    async with db.sessions() as session:
        session.add(RateSnapshot(rate="7.25", median="7.25", sources={"okx": "7.25"}, fetched_at=T0))
        await session.commit()
    clock.set(T0 + timedelta(seconds=200))
    data = await health(db, settings, clock)
    assert data["status"] == "UP" and data["rate"] == {"status": "UP", "rate": "7.25", "age_seconds": 200}
    clock.set(T0 + timedelta(seconds=400))
    data = await health(db, settings, clock)
    assert data["status"] == "DEGRADED" and data["rate"]["status"] == "DEGRADED"
    assert "400 s old" in data["rate"]["message"]
    clock.set(T0 + timedelta(seconds=700))  # past rate.max_age_seconds: CNY pricing stops
    assert (await health(db, settings, clock))["rate"]["status"] == "DOWN"
