from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from engine.clock import ManualClock
from engine.models import Merchant
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.notify.support import notify_settings


@pytest.fixture
def receiver() -> Iterator[MerchantReceiver]:
    with MerchantReceiver(MERCHANT_KEY) as running:
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def merchant(any_db: Db) -> Merchant:
    return await make_merchant(any_db)


@pytest.fixture
async def client(any_db: Db) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(notify_settings(any_db)) as c:
        yield c


@pytest.fixture
def notifier(any_db: Db, clock: ManualClock, client: httpx.AsyncClient) -> Notifier:
    return Notifier(any_db.sessions, notify_settings(any_db), clock, client)
