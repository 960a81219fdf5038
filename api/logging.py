"""Structured logs (structlog): JSON lines by default, readable text for
terminals. Secrets never reach here: settings hold them as SecretStr."""

from __future__ import annotations

import logging
from typing import Any

import structlog

from engine.config import Settings
from engine.redact import mask_urls_in

MAX_FRAMES = 20
# JSON lines carry the traceback as a dict: frames (file, line, function)
# and the exception, never the frames' local variables.
JSON_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False, max_frames=MAX_FRAMES)
)


# Libraries that log a line per request (httpx: every node call and every
# notification; ~30k lines a day per watcher) or per migration step: kept
# at WARNING unless USDTPAY_LOG_LEVEL=DEBUG asks for everything.
CHATTY = ("httpx", "httpcore", "alembic", "web3", "urllib3", "aiohttp.access", "asyncio")


def quiet_libraries(level: str) -> None:
    quiet = level.upper() != "DEBUG"
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)


def mask_rendered_urls(_logger: object, _name: str, line: Any) -> Any:
    """The finished line with every URL masked (engine.redact): node and RPC
    URLs carry API keys, and libraries log them as they please (web3's
    "Successfully disconnected from: <url>", an aiohttp error's url=...).
    It runs after the renderer, so it receives the line, not an event dict."""
    return mask_urls_in(line) if isinstance(line, str) else line


def configure_logging(settings: Settings) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(
            # Never print local variables: a frame's locals hold merchant
            # keys, request bodies and channel secrets (issue 12, finding 4).
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False, max_frames=MAX_FRAMES)
        )
    )
    shared: list[structlog.types.Processor] = [
        # Ids bound with structlog.contextvars (order_id, tx_hash,
        # delivery_id, ...) land on every line logged while they are bound,
        # stdlib `logging` calls included; `extra={...}` fields too.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([JSON_TRACEBACKS] if settings.log_json else []),
                renderer,
                mask_rendered_urls,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    quiet_libraries(settings.log_level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
