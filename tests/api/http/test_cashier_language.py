"""The cashier page's language: zh or en from Accept-Language (q values
honoured) or ?lang=, Chinese when neither says; caches told it varies."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize(
    ("accept", "query", "lang"),
    [
        ("", "", "zh-CN"),
        ("en-US,en;q=0.9", "", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "", "zh-CN"),
        ("fr-FR, en;q=0.5, zh;q=0.4", "", "en"),
        ("en;q=0.2, zh-TW;q=0.7", "", "zh-CN"),
        ("de, fr", "", "zh-CN"),
        ("en;q=bogus, zh;q=0.1", "", "zh-CN"),
        ("en-US", "?lang=zh", "zh-CN"),
        ("zh-CN", "?lang=en", "en"),
    ],
)
async def test_language_follows_the_browser_or_the_switch(
    client: AsyncTestClient, accept: str, query: str, lang: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    resp = await client.get(f"/cashier.html{query}", headers=headers)
    assert resp.status_code == 200
    assert f'<html lang="{lang}">' in resp.text
    assert "accept-language" in resp.headers["vary"].lower()
