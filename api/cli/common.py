"""What every command module shares: the command type and a unit of work."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from engine.config import Settings
from engine.db import create_engine, create_session_factory

Command = Callable[[Settings, argparse.Namespace], int]


def run_db(settings: Settings, fn: Callable[[Any], Awaitable[int]]) -> int:
    """Run `fn(session)` in a committed unit of work (the command owns it)."""

    async def main() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                code = await fn(session)
                await session.commit()
                return code
        finally:
            await engine.dispose()

    return asyncio.run(main())


def now() -> datetime:
    return datetime.now(UTC)
