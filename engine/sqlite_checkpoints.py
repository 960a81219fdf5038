"""SQLite's WAL checkpoints, on a thread of their own (engine.work's writer)."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("usdtpay.work")


class Checkpointer:
    """Copies the WAL back into the database file on a thread of its own.

    Left to SQLite, a COMMIT that takes the WAL past 1000 pages runs the
    checkpoint itself, with an fsync: tens of milliseconds on the event loop
    every few hundred orders. A PASSIVE checkpoint here, at most once a
    second, never waits for the writer nor blocks it.

    But under steady writes a PASSIVE checkpoint never lets the log start
    over (SQLite restarts it only when a writer finds every frame copied
    back), so the WAL file grew without end: 750 MB after 40,000 creates
    in a minute. Once the log holds `restart_bytes`, right after a PASSIVE
    one, a RESTART checkpoint holds the write lock while it copies the rest,
    syncs and waits for the readers to leave the log; the next write starts
    the log over. It holds the lock 10-20 ms (TRUNCATE, which also empties
    the file, held it 110-120 ms); the writer waits it out asynchronously
    in engine.work's `_begin`. So the bound is high enough that this
    happens about every 10 s at full load and never at an ordinary one.
    The file stays at about `restart_bytes` plus a second of writes.

    Once writes pause for `idle_s`, a WAL file over `truncate_bytes` is
    emptied (TRUNCATE): otherwise a burst leaves the file at its peak, a few
    hundred MB of disk, until the next burst. With nothing writing, the
    110-120 ms it holds the lock costs no one; a write arriving then waits.
    """

    every_s = 1.0
    restart_bytes = 256 * 1024 * 1024
    busy_ms = 1000  # how long RESTART waits for the writer and the readers before it gives up
    idle_s = 5.0
    truncate_bytes = 64 * 1024 * 1024

    def __init__(self, path: str) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        self._running: Future[None] | None = None
        self._last = time.monotonic()
        self._last_write = self._last
        self._written = False  # since the WAL file was last looked at when idle
        self._conn: sqlite3.Connection | None = None  # used on the pool's thread only
        self._page_bytes = 4096
        self._closed = False

    def maybe_start(self) -> None:
        """After each commit: a PASSIVE checkpoint if a second has passed."""
        now = time.monotonic()
        self._last_write, self._written = now, True
        if self._closed or self._busy() or now - self._last < self.every_s:
            return
        self._last = now
        self._running = self._pool.submit(self._checkpoint)

    def maybe_truncate(self) -> None:
        """Called now and then (engine.work's writer, every `idle_s`): once
        writes have paused that long, empty the WAL file if it is large."""
        quiet = time.monotonic() - self._last_write >= self.idle_s
        if self._closed or not self._written or not quiet or self._busy():
            return
        self._written = False
        self._running = self._pool.submit(self._truncate)

    def _busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout={self.busy_ms}")
            [(self._page_bytes,)] = self._conn.execute("PRAGMA page_size").fetchall()
        return self._conn

    def _truncate(self) -> None:
        try:
            size = os.path.getsize(self._path + "-wal")
        except OSError:  # no WAL file: nothing to empty
            return
        if size <= self.truncate_bytes:
            return
        try:
            [(busy, _, _)] = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("emptying the WAL file failed: %s", exc)
            return
        if busy:  # another process still reads or writes: tried again after its next pause
            self._written = True

    def _checkpoint(self) -> None:
        try:
            [(_, frames, _)] = self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            held = frames * self._page_bytes
            if held > self.restart_bytes:
                [(busy, _, _)] = self._connection().execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                # Busy: the next one tries again; an operator hears when it keeps failing.
                if busy and held > 4 * self.restart_bytes:
                    log.warning(
                        "the SQLite WAL holds %d MB and could not start over: a connection holds a read "
                        "or write transaction open for over %d ms", held // 2**20, self.busy_ms
                    )  # fmt: skip
        except sqlite3.Error as exc:  # the next one tries again
            log.warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        if self._closed:  # close() may be called twice
            return
        self._closed = True

        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._pool.submit(close_connection)
        self._pool.shutdown(wait=True)
