"""Schemathesis against the full OpenAPI document (/schema/openapi.json):
whatever it sends to any endpoint of any face, usdtpay never answers 5xx.

The app runs under uvicorn on a loopback port (real HTTP), on SQLite with a
merchant, receiving wallets and in-process fiat channels, so the generated
requests reach the faces' real code paths.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import select, update

from api.http.app import create_app
from engine.clock import SystemClock
from engine.config import Settings
from engine.models import Merchant, Order
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from tests.api.http.faces.support import RecordingChannel
from tests.api.support import test_settings as app_settings
from tests.dbharness import Db, new_sqlite_url, open_db
from tests.factories import make_merchant, make_wallets
from tests.fakes.fiat_http import serve_app

EXAMPLES_PER_OPERATION = 40


async def _prepare(url: str) -> Db:
    db = await open_db(url)
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    await make_wallets(db, "eth", 1)
    await seed_example_orders(db)
    await db.close()
    return db


async def seed_example_orders(db: Db) -> None:
    """Orders under the ids the seeds' examples use, so generated requests
    built from those examples reach the code past the order lookup."""
    async with db.sessions() as session:
        merchant = (await session.scalars(select(Merchant))).first()
    assert merchant is not None
    for order_id, order_no in ((202406010001, "EXT20240601"), (1234567890, "ORDER20251123001")):
        new = NewOrder("cashier", order_no, Currency.CNY, 1000, subject="商品购买")
        # CNY orders without a chain need no rate.
        order, _ = await create_order(db.work, merchant, new, settings=Settings(), clock=SystemClock())
        async with db.sessions() as session:
            await session.execute(update(Order).where(Order.id == order.id).values(id=order_id))
            await session.commit()


def _serve(url: str, ready: threading.Event, stop: threading.Event, box: dict[str, Any]) -> None:
    async def main() -> None:
        db = await _prepare(url)
        app = create_app(app_settings(db, api={"rate_limit_per_minute": 1_000_000}))
        async with serve_app(app) as base:
            app.state.app_state.channels = {n: RecordingChannel(n) for n in ("wechat", "alipay", "quickpay")}
            box["base"] = base
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    try:
        asyncio.run(main())
    except BaseException as exc:  # surfaced to the fixture below
        box["error"] = exc
        ready.set()


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, sqlite_root: Path) -> Iterator[str]:
    url = new_sqlite_url(sqlite_root, tmp_path_factory.mktemp("schemathesis") / "usdtpay.db")
    ready, stop = threading.Event(), threading.Event()
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(url, ready, stop, box), daemon=True)
    thread.start()
    ready.wait(60)
    if "error" in box:
        raise box["error"]
    yield box["base"]
    stop.set()
    thread.join(30)


def check_operation(operation: Any, base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])

    run()


def test_no_server_errors_on_any_operation(live_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20, "the document lost operations"
    failures: list[str] = []
    for operation in operations:
        try:
            check_operation(operation, live_url)
        except (Exception, BaseExceptionGroup) as exc:  # collect every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
