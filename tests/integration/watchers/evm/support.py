from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.clock import Clock
from engine.config import EthSettings, Settings
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.integration.watchers.evm.devchain import Devchain, anvil_binary, compile_token, started

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="session")
def token_artifact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return compile_token(tmp_path_factory.mktemp("devchain"))


@pytest.fixture
async def devchain(token_artifact: dict[str, Any]) -> AsyncIterator[Devchain]:
    anvil = await started(anvil_binary())
    try:
        chain = await Devchain.start(anvil.url, token_artifact)
        yield chain
        await chain.close()
    finally:
        anvil.stop()


def evm_settings(db: Db, chain: Devchain, **eth: Any) -> Settings:
    group = EthSettings(
        enabled=True,
        rpc_urls=[chain.url],
        usdt_contract=chain.token.address,
        start_block=0,
        **eth,
    )
    return Settings(database_url=db.url, rate_fixed=Decimal("7.20"), log_json=False, eth=group)


@pytest.fixture
async def shop(db: Db) -> Db:
    await make_merchant(db)
    await make_wallets(db, "eth", 1, start=0x5A5A_5A5A_1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0)
    return db


@pytest.fixture
def settings(shop: Db, devchain: Devchain) -> Settings:
    return evm_settings(shop, devchain)


async def client_for(settings: Settings, clock: Clock | None = None) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async for c in client_for(settings):
        yield c


__all__ = ["Path", "client_for", "evm_settings"]
