"""A watcher that cannot reach its node is failing, with its last error and
since when, in /api/health and /metrics; an enabled chain whose watcher
never ran has usdtpay_watcher_* series from the start."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from engine.monitoring import chain_statuses
from engine.settlement.lease import beat_ok
from tests.api.http.watcher_states import failing_watcher, unreachable_settings
from tests.dbharness import Db


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_failing_watcher_in_health_and_metrics(db: Db) -> None:
    settings = unreachable_settings(db)
    streamer = await failing_watcher(db, settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        health = (await client.get("/api/health")).json()
        metrics = await client.get("/metrics")
    chains = health["data"]["watchers"]["chains"]
    part = chains["eth"]
    assert part["status"] == "DOWN" and part["watcher"] == "failing"
    assert part["holder"] == streamer.holder
    assert "reading the heads" in part["last_error"] and "failing since" in part["message"]
    assert part["failing_since"].endswith("Z")
    tron = chains["tron"]
    assert tron["watcher"] == "never started" and tron["status"] == "DOWN"

    assert metrics.headers["content-type"].count("charset") == 1, metrics.headers["content-type"]
    got = samples(metrics.text)
    assert got[("usdtpay_watcher_up", (("chain", "eth"),))] == 0.0
    assert got[("usdtpay_watcher_state", (("chain", "eth"), ("state", "failing")))] == 1.0
    assert got[("usdtpay_watcher_state", (("chain", "eth"), ("state", "running")))] == 0.0
    assert got[("usdtpay_watcher_failing_seconds", (("chain", "eth"),))] >= 0.0
    assert got[("usdtpay_watcher_errors_total", (("chain", "eth"),))] == 1.0
    # Never started: the lag alert (seconds_since_update > 120) can fire from the start.
    assert math.isinf(got[("usdtpay_watcher_seconds_since_update", (("chain", "tron"),))])
    assert got[("usdtpay_watcher_state", (("chain", "tron"), ("state", "never started")))] == 1.0


async def test_a_success_clears_failing_and_a_release_reads_stopped(db: Db) -> None:
    settings = unreachable_settings(db)
    streamer = await failing_watcher(db, settings)
    assert streamer.holder is not None
    async with db.sessions() as session:
        await beat_ok(session, "eth", streamer.holder, datetime.now(UTC))
        await session.commit()
        eth = next(
            s for s in await chain_statuses(session, settings, now=datetime.now(UTC)) if s.chain == "eth"
        )
    assert eth.watcher == "running" and eth.failing_since is None
    await streamer.release()
    async with db.sessions() as session:
        eth = next(
            s for s in await chain_statuses(session, settings, now=datetime.now(UTC)) if s.chain == "eth"
        )
    assert eth.watcher == "stopped"
