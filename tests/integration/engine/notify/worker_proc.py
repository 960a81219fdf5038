"""A notifier in its own process, for the kill test:

    python -m tests.integration.engine.notify.worker_proc DATABASE_URL LEASE_SECONDS

Runs until SIGTERM (clean stop) or SIGKILL (the crash under test). Prints
`ready` once it is polling so the test knows when it started.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from engine.clock import SystemClock
from engine.config import NotifySettings, Settings
from engine.db import create_engine, create_session_factory
from engine.notify.transport import new_client
from engine.notify.worker import Notifier


async def main(url: str, lease_s: float) -> None:
    notify = NotifySettings(
        allow_hosts=["127.0.0.1"], timeout_seconds=1.0, poll_seconds=0.05, workers=4, batch_size=12
    )
    settings = Settings(database_url=url, notify=notify)
    engine = create_engine(url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with new_client(settings) as client:
            notifier = Notifier(
                create_session_factory(engine),
                settings,
                SystemClock(),
                client,
                lease=timedelta(seconds=lease_s),
            )
            print("ready", flush=True)
            await notifier.run(stop)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
