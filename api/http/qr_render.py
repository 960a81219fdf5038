"""QR codes for /api/qr.svg, rendered off the event loop (issue 12, finding 8).

segno takes 0.05-0.7 s of pure Python per code here; on the event loop that
stalls every other request. Renders run in a small thread pool of their own
(not the default executor the database work may use), at most
`MAX_PENDING` are queued (more answer "busy" at once), identical requests
share one render while it runs, and finished codes are kept in a bounded
LRU keyed by their content: the cashier page asks for the same few codes
again and again.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import segno

MAX_BYTES = 2048  # UTF-8 bytes; a version-40 code at level M holds 2331
WORKERS = 2
MAX_PENDING = 16
CACHE_ENTRIES = 512


class QrBusy(Exception):
    """Too many renders queued; the caller answers 503."""


class QrTooLong(ValueError):
    """The data does not fit a QR code."""


def render_svg(data: str) -> bytes:
    """A scalable SVG (no width/height, a viewBox) with a quiet zone of 2 modules."""
    buffer = io.BytesIO()
    try:
        code = segno.make(data, error="m", micro=False)
    except segno.DataOverflowError as exc:
        raise QrTooLong(str(exc)) from exc
    code.save(buffer, kind="svg", border=2, xmldecl=False, omitsize=True, dark="#111", light="#fff")
    return buffer.getvalue()


class QrRenderer:
    def __init__(
        self, *, workers: int = WORKERS, max_pending: int = MAX_PENDING, cache_entries: int = CACHE_ENTRIES
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="usdtpay-qr")
        self._max_pending = max_pending
        self._cache_entries = cache_entries
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._running: dict[str, Future[bytes]] = {}
        # Loops of several threads may share the renderer (tests, workers).
        # Re-entrant: a render that is already done when its callback is
        # added runs `_finished` at once, in this thread, under the lock.
        self._lock = threading.RLock()

    async def svg(self, data: str) -> bytes:
        """The code for `data`; QrTooLong, or QrBusy when the queue is full."""
        with self._lock:
            cached = self._cache.get(data)
            if cached is not None:
                self._cache.move_to_end(data)
                return cached
            future = self._running.get(data)
            if future is None:
                if len(self._running) >= self._max_pending:
                    raise QrBusy("too many QR codes are being drawn; retry in a moment")
                future = self._pool.submit(render_svg, data)
                self._running[data] = future
                future.add_done_callback(lambda done: self._finished(data, done))
        return await asyncio.wrap_future(future)

    def _finished(self, data: str, future: Future[bytes]) -> None:
        with self._lock:
            self._running.pop(data, None)
            if future.cancelled() or future.exception() is not None:
                return
            self._cache[data] = future.result()
            self._cache.move_to_end(data)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)


RENDERER = QrRenderer()
