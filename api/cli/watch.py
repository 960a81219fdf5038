"""`usdtpay watch tron|eth|okx|binance|htx`: run one chain's (or one
exchange's) watcher in this process.

`--from-block N` moves the cursor first (back: replays, which is safe;
forward: skips blocks, whose payments then need a supplement). `--until-caught-up`
exits once the cursor reaches the final head (for operators and scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from engine.config import Settings


def cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    from api.logging import configure_logging
    from engine.db import is_sqlite
    from engine.exchanges.ports import EXCHANGES
    from engine.migrate import upgrade

    if args.chain in EXCHANGES:  # seed 004 type 2: the exchange's receiving accounts
        from api.cli.exchange import watch_exchange

        return watch_exchange(settings, args.chain, args.until_caught_up)
    configure_logging(settings)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    return asyncio.run(_watch(settings, args.chain, args.from_block, args.until_caught_up))


async def _watch(settings: Settings, chain: str, from_block: int | None, until_caught_up: bool) -> int:
    from engine.db import create_engine, create_session_factory, unit_of_work
    from engine.settlement import set_cursor
    from watchers.readers import build_reader
    from watchers.runner import streamer_config
    from watchers.streamer import Streamer

    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = build_reader(settings, chain)
    try:
        if from_block is not None:
            async with unit_of_work(sessions) as session:
                await set_cursor(session, chain, from_block, datetime.now(UTC))
            print(f"{chain} cursor set to block {from_block}")
        streamer = Streamer(reader, sessions, streamer_config(settings, chain))
        if until_caught_up:
            await streamer.claim()
            try:
                return await _catch_up(streamer, stop)
            finally:
                await streamer.release()
        await streamer.run(stop)
        return 0
    finally:
        await reader.aclose()
        await engine.dispose()


async def _catch_up(streamer: Any, stop: asyncio.Event) -> int:
    while not stop.is_set():
        step = await streamer.run_step()
        p = streamer.progress
        if step.kind == "caught_up":
            print(f"{p.chain}: caught up at block {p.next_block} (final head {p.final_head})")
            return 0
        if step.kind == "ingested":
            print(f"{p.chain}: blocks {step.start}-{step.end} done, lag {p.lag_blocks} blocks", flush=True)
        elif step.delay:
            await asyncio.sleep(step.delay)
    return 1


def register(sub: Any) -> None:
    from engine.exchanges.ports import EXCHANGES

    p = sub.add_parser("watch", help="run a chain watcher (TRC20 on tron, ERC20 on eth)")
    p.add_argument("chain", choices=["tron", "eth", *EXCHANGES])
    p.add_argument("--from-block", type=int, help="move the cursor to this block first")
    p.add_argument("--until-caught-up", action="store_true", help="exit when the final head is reached")


COMMANDS: dict[str, Command] = {"watch": cmd_watch}
