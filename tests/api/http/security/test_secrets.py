"""Finding 10 (node URLs are secrets): an RPC / node URL that carries an API
key (Infura's https://mainnet.infura.io/v3/<key>, a GetBlock-style
/<key>/ path, ?apikey=) never appears in a log line (ours or a library's,
text or JSON, DEBUG included), a watcher's error, the lease row, `usdtpay
status`, `usdtpay config` or /api/health.

The node is a real loopback HTTP server that refuses every call with 401,
as Infura does for a revoked project id; the watchers are the real EVM and
TRON readers and the streamer, for one step."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import structlog
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from api.cli.config import connections, effective_lines
from api.cli.status_report import render_status
from api.http.app import create_app
from api.logging import configure_logging
from engine.config import EthSettings, OpsSettings, Settings, TronSettings
from engine.models import WatcherLease
from tests.dbharness import Db
from watchers.readers import build_reader
from watchers.runner import streamer_config
from watchers.streamer import Streamer

INFURA_KEY = "84842078b09946638c03157f83405213"
GETBLOCK_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(65536)
    writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 18\r\n"
                 b"Connection: close\r\n\r\ninvalid project id")  # fmt: skip
    await writer.drain()
    writer.close()


@pytest.fixture
async def node() -> AsyncIterator[str]:
    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(params=[False, True], ids=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[io.StringIO, bool]]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield io.StringIO(), request.param
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.reset_defaults()


def keyed_settings(db: Db, node: str) -> Settings:
    return Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_level="DEBUG",
        eth=EthSettings(enabled=True, rpc_urls=[f"{node}/v3/{INFURA_KEY}"], timeout_seconds=2.0),
        tron=TronSettings(enabled=True, node_urls=[f"{node}/{GETBLOCK_KEY}/?apikey=s3cr3t-query-key"]),
        ops=OpsSettings(metrics_open=True),
    )


async def failing_step(db: Db, settings: Settings, chain: str) -> str:
    reader = build_reader(settings, chain)
    streamer = Streamer(reader, db.sessions, streamer_config(settings, chain))
    await streamer.claim()
    step = await streamer.run_step()
    await reader.aclose()  # web3 logs "Successfully disconnected from: <url>"
    assert step.kind == "error", step
    return f"{step.error}\n{streamer.progress.last_error}"


async def test_keyed_node_urls_never_leave_the_process(
    db: Db, node: str, captured: tuple[io.StringIO, bool]
) -> None:
    stream, as_json = captured
    settings = keyed_settings(db, node).model_copy(update={"log_json": as_json})
    configure_logging(settings)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    errors = await failing_step(db, settings, "eth") + await failing_step(db, settings, "tron")
    async with db.sessions() as session:
        leases = "\n".join(str(lease.last_error) for lease in await session.scalars(select(WatcherLease)))
        status = await render_status(session, settings, datetime.now(UTC))
    async with AsyncTestClient(app=create_app(settings)) as client:
        health = (await client.get("/api/health")).text
    shown = "\n".join([*connections(settings), *effective_lines(settings)])
    log = stream.getvalue()
    # The attack surface was reached: the failure is reported, with its endpoint.
    assert "401" in errors and "/v3/***" in errors, errors
    assert "Successfully disconnected from: " in log and "/v3/***" in log
    assert "failing" in status and "401" in leases
    for where, text in {"log": log, "errors": errors, "lease": leases, "status": status,
                        "health": health, "config": shown}.items():  # fmt: skip
        for secret in (INFURA_KEY, GETBLOCK_KEY, "s3cr3t-query-key"):
            assert secret not in text, f"{secret} shown in the {where}:\n{text[-3000:]}"
