"""What every command module shares: the command type and a unit of work."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only inside commands: `usdtpay --help` stays quick
    from engine.config import Settings

Command = Callable[["Settings", argparse.Namespace], int]


def run_db(settings: Settings, fn: Callable[[Any], Awaitable[int]]) -> int:
    """Run `fn(session)` in a committed unit of work (the command owns it)."""
    import asyncio

    from engine.db import create_engine, create_session_factory

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
