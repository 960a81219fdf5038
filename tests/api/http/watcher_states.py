"""A watcher that cannot reach its node, for the status, health and metrics
tests: a real EVM reader pointed at a closed loopback port, one step."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from engine.config import EthSettings, OpsSettings, Settings, TronSettings
from engine.models import WatcherLease
from tests.dbharness import Db
from watchers.readers import build_reader
from watchers.runner import streamer_config
from watchers.streamer import Streamer

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens on loopback


def unreachable_settings(db: Db) -> Settings:
    return Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        eth=EthSettings(enabled=True, rpc_urls=[CLOSED_PORT_URL], timeout_seconds=2.0),
        tron=TronSettings(enabled=True),  # enabled, never started
        ops=OpsSettings(metrics_open=True),
    )


async def failing_watcher(db: Db, settings: Settings) -> Streamer:
    """An eth streamer that claimed its lease and failed one step."""
    reader = build_reader(settings, "eth")
    streamer = Streamer(reader, db.sessions, streamer_config(settings, "eth"))
    await streamer.claim()
    step = await streamer.run_step()
    assert step.kind == "error", step
    await reader.aclose()
    return streamer


async def lease_held_elsewhere(db: Db, chain: str) -> None:
    async with db.sessions() as session:
        now = datetime.now(UTC)
        session.add(
            WatcherLease(
                chain=chain,
                holder="otherhost:4242",
                started_at=now,
                heartbeat_at=now,
                released=False,
                errors=0,
            )
        )
        await session.commit()
