"""Building real books for the reconciliation tests: orders through the
order service, transfers on a real node (anvil or the TRON simulator),
ingested through settlement exactly as a watcher would, then the CLI run
in a thread (it owns its event loop) with settings from the environment."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from api.cli import main
from engine.chain import ChainReader
from engine.config import Settings
from engine.models import Order
from engine.settlement import ingest, rules_for
from tests.dbharness import Db


async def ingest_blocks(
    db: Db,
    settings: Settings,
    reader: ChainReader,
    start: int,
    end: int,
    addresses: frozenset[str],
    now: datetime,
) -> None:
    """What a watcher step does: read the range, ingest, commit."""
    transfers = await reader.transfers(start, end, addresses)
    async with db.sessions() as session:
        await ingest(session, reader.chain, transfers, now, rules_for(settings, reader.chain))
        await session.commit()


async def execute(db: Db, statement: Any) -> None:
    async with db.sessions() as session:
        await session.execute(statement)
        await session.commit()


async def reload(db: Db, order_id: int) -> Order:
    async with db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def mark_paid(db: Db, order_id: int, tx_hash: str, block: int, when: datetime, units: int) -> None:
    """Plant "paid" on an order, as a bad manual edit would."""
    await execute(
        db,
        update(Order)
        .where(Order.id == order_id)
        .values(status="paid", tx_hash=tx_hash, block_number=block, paid_at=when, paid_units=units),
    )


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None

    def kinds(self) -> dict[str, int]:
        assert self.report is not None, self.err
        counts: dict[str, int] = {}
        for row in self.report["findings"]:
            counts[row["kind"]] = counts.get(row["kind"], 0) + 1
        return counts

    def rows(self, kind: str) -> list[dict[str, Any]]:
        assert self.report is not None
        return [r for r in self.report["findings"] if r["kind"] == kind]


async def reconcile(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    out: Path,
    *args: str,
) -> Run:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = await asyncio.to_thread(main, ["reconcile", "--out", str(out), *args])
    captured = capsys.readouterr()
    files = sorted(out.glob("reconcile-*.json"), key=os.path.getmtime)
    report = json.loads(files[-1].read_text()) if files and code != 2 else None
    for f in out.glob("reconcile-*"):
        f.unlink()
    return Run(code, captured.out, captured.err, report)
