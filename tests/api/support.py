from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.config import Settings
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets


def test_settings(db: Db, **overrides: object) -> Settings:
    return Settings(database_url=db.url, rate_fixed=Decimal("7.20"), log_json=False, **overrides)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper: pytest collects test_* where it is imported


@pytest.fixture
async def client(db: Db) -> AsyncIterator[AsyncTestClient]:
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    await make_wallets(db, "eth", 1)
    app = create_app(test_settings(db))
    async with AsyncTestClient(app=app) as c:
        yield c
