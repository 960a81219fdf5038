"""When a watcher's lease row still counts as held: the judgement alone,
without the database. engine.settlement.lease claims and beats the rows;
engine.monitoring reads them (through plain SQL, so `usdtpay status` loads
no SQLAlchemy) and judges them here, the same way in every process."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Protocol

# A holder that has not beaten for this long (and at least ten polls plus
# the longest backoff) is gone: its chain may be claimed again.
MIN_STALE_S = 120.0
MAX_BACKOFF_S = 60.0
# An exchange watcher waits up to five minutes before retrying a refused key
# (watchers.exchanges.loop); its readers (engine.monitoring) judge it stopped
# only past that wait.
EXCHANGE_MAX_BACKOFF_S = 300.0


class Lease(Protocol):
    """A watcher_leases row: the mapped WatcherLease or a plain row of it."""

    @property
    def holder(self) -> str: ...

    @property
    def heartbeat_at(self) -> datetime: ...

    @property
    def released(self) -> bool: ...


def stale_after(poll_seconds: float, max_backoff_s: float = MAX_BACKOFF_S) -> timedelta:
    return timedelta(seconds=max(MIN_STALE_S, 10 * poll_seconds + max_backoff_s))


def is_live(lease: Lease, now: datetime, stale: timedelta) -> bool:
    return not lease.released and now - lease.heartbeat_at < stale and not died_here(lease.holder)


def died_here(holder: str) -> bool:
    """A holder on this host whose process no longer exists (killed, crashed):
    its restart takes the chain at once instead of waiting out the stale time."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # exists under another user / not a pid: treat as alive
    return False
