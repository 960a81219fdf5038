from __future__ import annotations

from engine.notify.urls import CachingResolver


async def test_answers_are_reused_within_the_ttl_and_refreshed_after() -> None:
    calls: list[tuple[str, int]] = []
    answers = iter([["203.0.113.7"], ["10.0.0.9"]])

    async def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return next(answers)

    cache = CachingResolver(resolve, ttl_s=0.05)
    assert await cache("shop.example", 443) == ["203.0.113.7"]
    assert await cache("shop.example", 443) == ["203.0.113.7"]
    assert calls == [("shop.example", 443)]

    import asyncio

    await asyncio.sleep(0.06)
    # A changed record is seen once the answer is older than the TTL.
    assert await cache("shop.example", 443) == ["10.0.0.9"]
    assert len(calls) == 2
