"""Exchange watchers show in `usdtpay status`, /api/health, /metrics and the
console like chain watchers, from the same figures (engine.monitoring):
running with its cursor and lag, failing with its last error and since
when, never started; unmatched records counted. A deployment with no
exchange in use shows nothing new."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from api.cli.status_report import render_status
from api.http.app import create_app
from engine.config import EthSettings
from engine.models import ChainCursor, Notification, RateSnapshot, WatcherLease
from engine.monitoring import exchange_statuses
from engine.rows import PostgresRows, SqliteRows, reading
from tests.api.http.admin.test_console_http import add, sign_in
from tests.api.http.exchange_watchers import Exchanges, exchanges_fixture  # noqa: F401
from tests.api.http.test_watcher_health import samples
from tests.api.http.watcher_states import unreachable_settings
from tests.dbharness import Db
from tests.integration.engine.exchanges.support import sims  # noqa: F401


def row(text: str, exchange: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(f"{exchange} ")).split()


async def test_status_shows_running_failing_and_never_started_exchange_watchers(w: Exchanges) -> None:
    async with w.db.sessions() as session:
        text = await render_status(session, w.settings, datetime.now(UTC))
    assert "\nExchanges\nexchange  accounts watcher " in text, text
    until = f"{w.started:%Y-%m-%d %H:%M:%S}Z"  # the okx poll read up to its clock's now
    okx = row(text, "okx")
    assert okx[:5] == ["okx", "1", "running", *until.split()], text
    assert okx[6] == "1" and okx[-2:] == ["s", "ago"]  # one unmatched record, a recent poll
    assert row(text, "binance")[:7] == ["binance", "1", "failing", "-", "-", "0", "never"], text
    assert row(text, "htx")[:4] == ["htx", "1", "never", "started"], text
    assert f"! binance watcher ({w.binance.holder}): failing since " in text
    assert f"account #{w.accounts['binance'].id}: " in text and "usdtpay exchange check ID" in text
    assert "! htx: the watcher has not run yet; start `usdtpay watch htx` or `usdtpay run` with htx" in text
    assert "okx: 1 record(s) settled no order" in text
    assert "! okx" not in text


async def test_the_commands_own_reads_give_the_same_report_as_a_session(w: Exchanges) -> None:
    """`usdtpay status` reads through engine.rows.reading (aiosqlite or
    asyncpg alone, so no SQLAlchemy), the server through its session: the
    same statements, and the same report to the byte, on both databases."""
    now = datetime.now(UTC)
    settings = w.settings.model_copy(update={"eth": EthSettings(enabled=True)})
    async with w.db.sessions() as session:
        session.add(ChainCursor(chain="eth", next_block=101, head=130, final_head=118, updated_at=now))
        beat, failing = now - timedelta(seconds=5), now - timedelta(seconds=70)
        error = "reading the heads: refused"
        session.add(
            WatcherLease(chain="eth", holder="otherhost:9", started_at=now, heartbeat_at=beat,
                         failing_since=failing, last_error=error, errors=3)
        )  # fmt: skip
        due = now - timedelta(minutes=7)
        session.add(
            Notification(delivery_id="d1", order_id=1, merchant_id=1, scheme="usdt", url="http://127.0.0.1/n",
                         body="{}", next_attempt_at=due, created_at=now)
        )  # fmt: skip
        session.add(RateSnapshot(rate="7.21", median="7.2", sources={"okx": "7.21"}, fetched_at=now))
        await session.commit()
        through_session = await render_status(session, settings, now)
    async with reading(w.db.url) as rows:
        assert isinstance(rows, SqliteRows if w.db.backend == "sqlite" else PostgresRows)
        own = await render_status(rows, settings, now)
    assert own == through_session
    shown = ("\nExchanges\n", "! eth watcher (otherhost:9) failing since", "due now 1", "CNY per USDT 7.21")
    assert all(line in own for line in shown), own


async def test_health_and_metrics_show_exchange_watchers(w: Exchanges) -> None:
    async with AsyncTestClient(app=create_app(w.settings)) as client:
        health = (await client.get("/api/health")).json()
        metrics = (await client.get("/metrics")).text
    watchers = health["data"]["watchers"]
    assert watchers["status"] == "DOWN" and watchers["chains"] == {}
    okx, binance, htx = (watchers["exchanges"][e] for e in ("okx", "binance", "htx"))
    assert okx["status"] == "UP" and okx["watcher"] == "running" and okx["holder"] == w.okx.holder
    assert okx["accounts"] == 1 and okx["unmatched"] == 1 and 0 <= okx["lag_seconds"] < 300
    assert okx["scanned_until"] == w.started.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert binance["status"] == "DOWN" and binance["watcher"] == "failing"
    assert binance["last_error"].startswith(f"account #{w.accounts['binance'].id}: ")
    assert binance["failing_since"].endswith("Z") and "failing since" in binance["message"]
    assert htx["status"] == "DOWN" and htx["watcher"] == "never started"

    got = samples(metrics)

    def value(name: str, exchange: str, **labels: str) -> float:
        return got[(name, tuple(sorted({"chain": exchange, **labels}.items())))]

    assert value("usdtpay_watcher_up", "okx") == 1.0
    assert value("usdtpay_watcher_up", "binance") == 0.0
    assert value("usdtpay_watcher_state", "binance", state="failing") == 1.0
    assert value("usdtpay_watcher_state", "htx", state="never started") == 1.0
    assert value("usdtpay_watcher_errors_total", "binance") == 1.0
    assert value("usdtpay_watcher_failing_seconds", "binance") >= 0.0
    assert 0 <= value("usdtpay_watcher_lag_seconds", "okx") < 300
    assert value("usdtpay_watcher_cursor_timestamp_seconds", "okx") == w.started.timestamp()
    assert value("usdtpay_watcher_accounts", "htx") == 1.0
    assert value("usdtpay_watcher_records_read_total", "okx") == 1.0
    assert value("usdtpay_transfers_unmatched", "okx") == 1.0
    # Never read: the README's lag alerts fire from the start, as for a chain.
    for exchange in ("binance", "htx"):
        assert math.isinf(value("usdtpay_watcher_lag_seconds", exchange))
        assert math.isinf(value("usdtpay_watcher_seconds_since_update", exchange))


async def test_a_stopped_exchange_watcher_reads_stopped(w: Exchanges) -> None:
    await w.okx.release()
    async with w.db.sessions() as session:
        okx = (await exchange_statuses(session, w.settings, datetime.now(UTC)))[0]
    assert okx.exchange == "okx" and okx.watcher == "stopped"


async def test_no_exchange_in_use_shows_nothing_new(any_db: Db) -> None:
    settings = unreachable_settings(any_db)
    async with any_db.sessions() as session:
        text = await render_status(session, settings, datetime.now(UTC))
    async with AsyncTestClient(app=create_app(settings)) as client:
        health = (await client.get("/api/health")).json()
        answer = await client.get("/metrics")  # on PostgreSQL too (it once answered 500 there)
    metrics = answer.text
    assert answer.status_code == 200, metrics[:200]
    assert "Exchanges" not in text and "\nNotifications\n" in text
    assert set(health["data"]["watchers"]) == {"status", "chains"}
    for name in ("cursor_timestamp_seconds", "watcher_accounts", "records_read", "okx", "binance", "htx"):
        assert name not in metrics


async def test_the_console_shows_exchange_watchers(w: Exchanges) -> None:
    new = await add(w.db)
    async with AsyncTestClient(app=create_app(w.settings), base_url="https://usdtpay.test") as console:
        assert (await sign_in(console, new)).status_code == 303
        page = (await console.get("/admin/watchers")).text
        dashboard = (await console.get("/admin/")).text
    table = page[page.index('<table id="exchange-watchers">') :]
    okx, binance, htx = (table[table.index(f"<td>{e}</td>") :] for e in ("okx", "binance", "htx"))
    assert okx.index('badge UP">UP') < okx.index("running") < okx.index("</tr>")
    assert '<a href="/admin/transfers">1</a>' in okx[: okx.index("</tr>")]
    failing = binance[: binance.index("</tr>")]
    assert "failing" in failing and f"account #{w.accounts['binance'].id}: " in failing
    assert "never started" in htx[: htx.index("</tr>")]
    assert 'id="exchange-watchers"' in dashboard
