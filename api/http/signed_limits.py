"""Rate limits on the signed faces (usdt, quickpay) that an outsider cannot
turn against a merchant (issue 12, finding 5).

A request is counted against its merchant's budget (`pid:<pid>`,
api.rate_limit_per_minute) only once its signature verified. Anything that
fails (no pid, unknown pid, bad signature) is counted against its source
(`badsig:<address>`, an IPv6 client by its /64, api.failed_signatures_per_minute);
a source over that budget is refused before any key is looked up. So 600
forged requests naming a merchant cost the forger, never the merchant.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from litestar import Request

from api.http.client_address import client_source
from api.http.state import AppState
from engine.errors import Forbidden, TooManyRequests

P = ParamSpec("P")
T = TypeVar("T")


def _source(state: AppState, request: Request[Any, Any, Any]) -> str:
    return f"badsig:{client_source(request, state.settings.api)}"


def check_source(state: AppState, request: Request[Any, Any, Any]) -> None:
    """429 for a source whose failed signatures used this minute's budget."""
    if state.limiter.full(_source(state, request), limit=state.settings.api.failed_signatures_per_minute):
        raise TooManyRequests(
            "too many requests with a bad signature or unknown merchant from your address; "
            "fix the signing and retry in a minute"
        )


def charge(state: AppState, pid: str) -> None:
    """Count one verified request against the merchant's budget."""
    if not state.limiter.allow(f"pid:{pid}"):
        raise TooManyRequests("too many requests; slow down and retry with exponential backoff")


def counts_failures(
    authenticate: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T]]:
    """For `authenticate(state, request, ...)`: a Forbidden it raises counts
    one failure against the request's source."""

    @functools.wraps(authenticate)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        state, request = args[0], args[1]
        assert isinstance(state, AppState) and isinstance(request, Request)
        try:
            return await authenticate(*args, **kwargs)
        except Forbidden:
            state.limiter.allow(
                _source(state, request), limit=state.settings.api.failed_signatures_per_minute
            )
            raise

    return wrapper
