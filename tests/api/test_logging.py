"""Structured JSON logs: ids bound with structlog's contextvars and the
`extra` fields of stdlib calls land on the line as JSON fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog

from api.logging import configure_logging
from engine.chain import ChainTransfer
from engine.clock import ManualClock
from engine.config import TRON_USDT_CONTRACT, Settings
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.settlement import ingest, rules_for
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, tron_address


@pytest.fixture
def json_logs() -> Iterator[Any]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(Settings(log_json=True, log_level="INFO"))
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)  # the handler and its formatter as configured

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_bound_ids_reach_stdlib_lines(json_logs: Any) -> None:
    with structlog.contextvars.bound_contextvars(delivery_id="d-123", order_id=42):
        logging.getLogger("usdtpay.notify").warning("attempt failed: %s", "HTTP 500")
    logging.getLogger("usdtpay.notify").info("after", extra={"tx_hash": "ab" * 32})
    first, second = json_logs()
    assert first["event"] == "attempt failed: HTTP 500" and first["level"] == "warning"
    assert (first["delivery_id"], first["order_id"], first["logger"]) == ("d-123", 42, "usdtpay.notify")
    assert "delivery_id" not in second and second["tx_hash"] == "ab" * 32


async def test_settlement_logs_the_order_and_hash(db: Db, json_logs: Any) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    settings = Settings(database_url=db.url)
    merchant = await make_merchant(db)
    await make_wallets(db, "tron", 1)

    new = NewOrder("usdt", "L-1", Currency.USDT, 2_000_000, chain="tron")
    order, _ = await create_order(db.work, merchant, new, settings=settings, clock=ManualClock(now))
    assert order.address is not None and order.usdt_units is not None
    async with db.sessions() as session:
        t = ChainTransfer("tron", "cd" * 32, 0, 5, now + timedelta(seconds=9), tron_address(3), order.address,
                          TRON_USDT_CONTRACT, order.usdt_units)  # fmt: skip
        await ingest(session, "tron", [t], now + timedelta(minutes=1), rules_for(settings, "tron"))
        await session.commit()
    [line] = [x for x in json_logs() if x["event"].startswith("order paid on chain")]
    assert (line["order_id"], line["tx_hash"], line["chain"]) == (order.id, "cd" * 32, "tron")
    assert line["logger"] == "usdtpay.settlement" and line["timestamp"].endswith("Z")
