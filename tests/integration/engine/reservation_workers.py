"""Worker side of the reservation concurrency test, kept apart from the test
module so the spawned interpreters import only the engine (no pytest).

Each process runs the same phases; a barrier before each phase makes the
creates of all processes overlap."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.amounts import AmountsExhausted
from engine.clock import SystemClock
from engine.config import OrderSettings, Settings
from engine.db import create_engine, create_session_factory
from engine.merchants import get_merchant
from engine.models import Merchant
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.work import WorkRunner, create_runner

MERCHANT_PID = "10001"
PROCESSES = 8
RATE = Decimal("7.20")


@dataclass(frozen=True)
class Phase:
    name: str
    per_process: int
    offset_slots: int
    usdt_units: int  # the base price; CNY orders use the fen that converts to it at RATE


@dataclass(frozen=True)
class Outcome:
    phase: str
    kind: str  # ok | exhausted | error | crash
    detail: str  # "address:units" for ok, the message otherwise


def _new_order(phase: Phase, worker: int, i: int) -> NewOrder:
    # Alternate CNY and USDT orders that land on the same USDT base price.
    cny = i % 2 == 0
    fen = int(Decimal(phase.usdt_units) * RATE / 10_000)
    return NewOrder(
        face="usdt",
        merchant_order_no=f"{phase.name}-{worker}-{i}",
        currency=Currency.CNY if cny else Currency.USDT,
        amount_units=fen if cny else phase.usdt_units,
        chain="tron",
    )


async def _run_phase(work: WorkRunner, merchant: Merchant, phase: Phase, worker: int) -> list[Outcome]:
    settings = Settings(rate_fixed=RATE, orders=OrderSettings(offset_slots=phase.offset_slots))
    outcomes: list[Outcome] = []
    for i in range(phase.per_process):
        new = _new_order(phase, worker, i)
        try:
            order, _ = await create_order(work, merchant, new, settings=settings, clock=SystemClock())
            outcomes.append(Outcome(phase.name, "ok", f"{order.address}:{order.usdt_units}"))
        except AmountsExhausted as exc:
            outcomes.append(Outcome(phase.name, "exhausted", exc.message))
        except Exception as exc:
            outcomes.append(Outcome(phase.name, "error", f"{type(exc).__name__}: {exc}"))
    return outcomes


async def _work(url: str, worker: int, phases: list[Phase], barrier: Any) -> list[Outcome]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    # As the API runs it: on SQLite, the group-commit writer with its own connection.
    work = create_runner(url, sessions)
    outcomes: list[Outcome] = []
    try:
        async with sessions() as session:
            merchant = await get_merchant(session, MERCHANT_PID)
        assert merchant is not None, "the test creates the merchant first"
        for phase in phases:
            # A long timeout: spawning 8 interpreters on a busy 2-core box is slow.
            await asyncio.to_thread(barrier.wait, 200)
            outcomes.extend(await _run_phase(work, merchant, phase, worker))
    finally:
        await work.close()
        await engine.dispose()
    return outcomes


def _worker(url: str, worker: int, phases: list[Phase], barrier: Any, out: Any) -> None:
    try:
        out.put(asyncio.run(_work(url, worker, phases, barrier)))
    except BaseException as exc:  # always report, so the parent never waits for nothing
        out.put([Outcome("-", "crash", f"worker {worker}: {type(exc).__name__}: {exc}")])
        raise


def run_processes(url: str, phases: list[Phase]) -> list[Outcome]:
    """Run PROCESSES spawned interpreters through `phases`; all outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, n, phases, barrier, out)) for n in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + 280
    try:
        for _ in procs:
            outcomes.extend(_next_report(out, procs, deadline))
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return outcomes


def _next_report(out: Any, procs: list[Any], deadline: float) -> list[Outcome]:
    while True:
        try:
            got: list[Outcome] = out.get(timeout=2)
            return got
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise AssertionError(f"a worker process died without reporting (exit codes {dead})") from None
            if time.monotonic() > deadline:
                raise AssertionError("the worker processes did not finish in time") from None
