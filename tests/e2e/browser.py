"""The real app on a loopback port and headless Debian Chromium driven by
Playwright. Tests skip with a reason when Chromium is missing, except under
CI=true where they fail."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.http.app import create_app
from engine.config import OrderSettings, Settings
from tests.dbharness import IN_CI, Db
from tests.factories import make_merchant, make_wallets

CHROMIUM = os.environ.get("USDTPAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "cashier"
DESKTOP = {"viewport": {"width": 1280, "height": 860}, "locale": "zh-CN"}


def require_chromium() -> None:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium is not installed at {CHROMIUM}"
    if IN_CI:
        pytest.fail(message + " (CI=true: this test must run; .ci/run installs Debian's chromium)")
    pytest.skip(message + "; install it with `apt-get install -y chromium fonts-noto-cjk`")


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    db: Db

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10)


def _bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def _run_server(app: Any, sock: socket.socket) -> Iterator[uvicorn.Server]:
    """uvicorn in a thread with its own event loop, on an already bound socket."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start; see the log above")
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def live_settings(db: Db, base_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        orders=OrderSettings(public_base_url=base_url),
        **overrides,
    )


@asynccontextmanager
async def start_live_server(db: Db, **overrides: Any) -> AsyncIterator[LiveServer]:
    """The whole app on 127.0.0.1:<free port>, a merchant, two TRON wallets
    and one Ethereum wallet, USDT at a fixed 7.20 CNY; `overrides` are
    Settings fields (e.g. a fiat channel pointed at its simulator)."""
    require_chromium()
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    await make_wallets(db, "eth", 1)
    sock = _bind_loopback()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = live_settings(db, base_url, **overrides)
    with _run_server(create_app(settings), sock):
        yield LiveServer(base_url=base_url, settings=settings, db=db)


@pytest.fixture
async def live_server(db: Db) -> AsyncIterator[LiveServer]:
    async with start_live_server(db) as server:
        yield server


@dataclass
class Browser:
    """One headless Chromium; pages for a desktop or a phone (Pixel 7)."""

    chromium: Any
    devices: dict[str, Any]

    async def desktop_page(self, **options: Any) -> Any:
        context = await self.chromium.new_context(**DESKTOP, **options)
        return await context.new_page()

    async def mobile_page(self, **options: Any) -> Any:
        device = {k: v for k, v in self.devices["Pixel 7"].items() if k != "default_browser_type"}
        context = await self.chromium.new_context(**device, locale="zh-CN", **options)
        return await context.new_page()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield Browser(chromium=chromium, devices=pw.devices)
        finally:
            await chromium.close()


async def screenshot(page: Any, name: str) -> Path:
    """Full-page PNG under tests/artifacts/cashier/ (gitignored), for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def card_shot(page: Any, name: str) -> Path:
    """The card alone, at CSS pixels: small enough for the README."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.locator("#cashier").screenshot(path=str(path), scale="css")
    return path
