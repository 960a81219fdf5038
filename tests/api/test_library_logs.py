"""Library chatter (httpx's line per request, alembic's per migration) stays
at WARNING unless USDTPAY_LOG_LEVEL=DEBUG asks for it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from api.logging import configure_logging
from engine.config import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("httpx", "alembic")}
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_httpx_and_alembic_info_lines(
    restore_logging: None, level: str, shown: bool, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging(Settings(log_level=level, log_json=False))
    logging.getLogger().addHandler(caplog.handler)
    logging.getLogger("httpx").info('HTTP Request: POST http://node "HTTP/1.1 200 OK"')
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0001 -> 0002")
    logging.getLogger("httpx").warning("a warning still shows")
    logging.getLogger("usdtpay.watch").info("our own INFO lines still show")
    messages = [r.getMessage() for r in caplog.records]
    assert ('HTTP Request: POST http://node "HTTP/1.1 200 OK"' in messages) is shown
    assert ("Running upgrade 0001 -> 0002" in messages) is shown
    assert "a warning still shows" in messages
    assert "our own INFO lines still show" in messages
