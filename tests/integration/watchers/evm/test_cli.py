"""`usdtpay watch eth --until-caught-up` and `usdtpay status` as real processes."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from litestar.testing import AsyncTestClient

from engine.config import Settings
from tests.dbharness import Db
from tests.integration.watchers.evm.devchain import Devchain
from tests.integration.watchers.evm.test_erc20_watcher import create_order, query, units
from tests.paths import ROOT

pytestmark = pytest.mark.anvil


async def usdtpay(settings: Settings, devchain: Devchain, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "USDTPAY_DATABASE_URL": settings.database_url,
        "USDTPAY_LOG_JSON": "false",
        "USDTPAY_ETH__ENABLED": "true",
        "USDTPAY_ETH__RPC_URLS": f'["{devchain.url}"]',
        "USDTPAY_ETH__USDT_CONTRACT": devchain.token.address,
        "USDTPAY_ETH__START_BLOCK": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), out.decode()


async def test_watch_command_catches_up_and_status_shows_the_cursor(
    client: AsyncTestClient, devchain: Devchain, settings: Settings, shop: Db
) -> None:
    code, out = await usdtpay(settings, devchain, "status")
    assert code == 0 and "never started" in out, out
    data = await create_order(client, "C1")
    await devchain.pay(data["u_addr"], units(data["amount"]))
    await devchain.mine(settings.eth.confirmations + 3)
    code, out = await usdtpay(settings, devchain, "watch", "eth", "--until-caught-up")
    assert code == 0 and "caught up" in out, out
    assert (await query(client, "C1"))["status"] == "paid"

    head = await devchain.head()
    await devchain.mine(20)
    code, out = await usdtpay(settings, devchain, "status", "--live")
    assert code == 0, out
    [row] = [line.split() for line in out.splitlines() if line.startswith("eth ")]
    final = head + 20 - settings.eth.confirmations
    # chain, enabled, watcher, head, final, cursor, lag blocks, lag seconds, ...
    # The watcher (`watch --until-caught-up`) has exited and released its lease.
    assert row[:8] == ["eth", "yes", "stopped", str(head + 20), str(final), str(head - 12), "20", "240"], out
