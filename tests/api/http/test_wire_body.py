"""api.http.wire.read_body: a body with a Content-Length is read from the
ASGI messages directly, with the same limits and errors as request.stream()."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from litestar.exceptions import InternalServerException
from litestar.types import Empty

from api.http.wire import read_body
from engine.errors import PayloadTooLarge


class Route:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def resolve_request_max_body_size(self) -> int | None:
        return self.limit


class FakeRequest:
    """What read_body uses of a Litestar Request."""

    def __init__(
        self, messages: list[dict[str, Any]], length: int | None, route_limit: int | None = None
    ) -> None:
        headers = [(b"host", b"x")] + (
            [(b"content-length", str(length).encode())] if length is not None else []
        )
        self.scope = {"headers": headers}
        self.route_handler = Route(route_limit)
        self.is_connected = True
        self._body: Any = Empty
        self._messages = messages
        self.streamed = False

    async def receive(self) -> dict[str, Any]:
        return self._messages.pop(0)

    async def stream(self) -> AsyncIterator[bytes]:
        self.streamed = True
        for message in self._messages:
            yield message.get("body", b"")


def chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]


async def read(request: FakeRequest, limit: int = 64) -> bytes:
    return await read_body(cast(Any, request), limit)


async def test_a_body_in_several_messages_is_joined() -> None:
    request = FakeRequest(chunks(b"ab", b"", b"cd"), length=4)
    assert await read(request) == b"abcd"
    assert not request.streamed and request.is_connected is False


async def test_the_route_limit_counts_when_it_is_lower() -> None:
    with pytest.raises(PayloadTooLarge, match="larger than 64 bytes"):
        await read(FakeRequest(chunks(b"x" * 20), length=20, route_limit=10))
    with pytest.raises(PayloadTooLarge):  # a body longer than announced
        await read(FakeRequest(chunks(b"x" * 8, b"x" * 8), length=8, route_limit=10))
    assert await read(FakeRequest(chunks(b"x" * 10), length=10, route_limit=10)) == b"x" * 10


async def test_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        await read(FakeRequest(chunks(b"x" * 65), length=65))
    with pytest.raises(PayloadTooLarge):
        await read(FakeRequest(chunks(b"x" * 40, b"x" * 40), length=40))


async def test_a_client_gone_mid_body_is_what_litestar_says() -> None:
    request = FakeRequest([*chunks(b"ab", b"cd")[:1], {"type": "http.disconnect"}], length=4)
    with pytest.raises(InternalServerException, match="client disconnected prematurely"):
        await read(request)


async def test_without_a_length_or_once_read_the_stream_is_used() -> None:
    chunked = FakeRequest(chunks(b"ab", b"cd"), length=None)
    assert await read(chunked) == b"abcd" and chunked.streamed
    already = FakeRequest(chunks(b"ab"), length=2)
    already._body = b"ab"
    assert await read(already) == b"ab" and already.streamed
