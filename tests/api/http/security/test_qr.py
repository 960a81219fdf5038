"""Finding 8: /api/qr.svg must not stall the event loop.

Renders run in their own small pool (never on the loop's thread), at most
WORKERS at once and MAX_PENDING queued, identical data renders once, and
over-long data is refused before anything is drawn."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from api.http import qr_render
from tests.api.http.security.support import LiveApp, live_app
from tests.dbharness import Db


class RenderSpy:
    """Wraps qr_render.render_svg: which threads drew what, how many at once."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.running = 0
        self.most = 0
        self.gate = gate
        self._lock = threading.Lock()
        self._real = qr_render.render_svg

    def __call__(self, data: str) -> bytes:
        with self._lock:
            self.calls.append((threading.current_thread().name, data))
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if self.gate is not None:
                self.gate.wait(30)
            return self._real(data)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RenderSpy]:
    handle = RenderSpy()
    monkeypatch.setattr(qr_render, "render_svg", handle)
    yield handle


@pytest.fixture
async def app(db: Db) -> AsyncIterator[LiveApp]:
    async with live_app(db) as handle:
        yield handle


def unique_url(length: int = 600) -> str:
    head = f"https://qr.alipay.com/{uuid.uuid4().hex}"
    return head + "x" * (length - len(head))


async def test_flood_of_qr_requests_leaves_the_loop_free(app: LiveApp, spy: RenderSpy) -> None:
    async def payer(client: httpx.AsyncClient) -> list[int]:
        answers = [await client.get("/api/qr.svg", params={"data": unique_url(1024)}) for _ in range(3)]
        return [answer.status_code for answer in answers]

    async def probe() -> list[int]:
        statuses = []
        for _ in range(10):
            async with httpx.AsyncClient(base_url=app.base_url, timeout=1.0) as fresh:
                statuses.append((await fresh.get("/healthz")).status_code)
            await asyncio.sleep(0.05)
        return statuses

    clients = [app.client(timeout=60) for _ in range(8)]
    try:
        *flood, health = await asyncio.gather(*(payer(c) for c in clients), probe())
    finally:
        for client in clients:
            await client.aclose()
    assert health == [200] * 10
    assert all(status in (200, 503) for statuses in flood for status in statuses)
    assert spy.calls and {name.split("_")[0] for name, _ in spy.calls} == {"usdtpay-qr"}
    assert spy.most <= qr_render.WORKERS


async def test_same_content_is_drawn_once(app: LiveApp, spy: RenderSpy) -> None:
    data = unique_url()
    async with app.client() as client:
        answers = await asyncio.gather(*(client.get("/api/qr.svg", params={"data": data}) for _ in range(6)))
        again = await client.get("/api/qr.svg", params={"data": data})
    assert {a.status_code for a in [*answers, again]} == {200}
    assert len({a.content for a in [*answers, again]}) == 1
    assert again.headers["content-type"].startswith("image/svg+xml")
    assert [d for _, d in spy.calls] == [data]


async def test_long_data_is_refused_before_drawing(app: LiveApp, spy: RenderSpy) -> None:
    async with app.client() as client:
        too_long = await client.get("/api/qr.svg", params={"data": "a" * 2049})
        too_many_bytes = await client.get("/api/qr.svg", params={"data": "支" * 700})  # 2100 bytes
    assert too_long.status_code == 400 and too_many_bytes.status_code == 400
    assert "longer than" in too_many_bytes.text
    assert spy.calls == []


async def test_queue_is_bounded(app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    blocked = RenderSpy(gate)
    monkeypatch.setattr(qr_render, "render_svg", blocked)
    count = qr_render.MAX_PENDING + 4
    async with app.client(timeout=60) as client:
        pending = [
            asyncio.ensure_future(client.get("/api/qr.svg", params={"data": unique_url(80)}))
            for _ in range(count)
        ]
        done: list[Any] = []
        while len(done) < 4:  # the ones over the bound answer at once
            finished, _ = await asyncio.wait(pending, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            assert finished, "requests over the bound must not wait for a render"
            done.extend(finished)
            pending = [p for p in pending if p not in finished]
        gate.set()
        rest = await asyncio.gather(*pending)
    assert [d.result().status_code for d in done] == [503] * 4
    assert [r.status_code for r in rest] == [200] * qr_render.MAX_PENDING
    assert blocked.most <= qr_render.WORKERS


class _Immediate(ThreadPoolExecutor):
    """Runs each job at once in the caller: the future is done before
    `svg()` adds its done-callback, as happens when a render is quick."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_render_finished_before_its_callback_is_added_does_not_deadlock() -> None:
    renderer = qr_render.QrRenderer()
    renderer._pool = _Immediate()
    result: dict[str, bytes] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("svg", asyncio.run(renderer.svg("TXYZ-deadlock"))), daemon=True
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "svg() waits forever on its own lock"
    assert result["svg"].lstrip().startswith(b"<svg")
