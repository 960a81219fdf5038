"""The TRON reader built from settings, as `usdtpay watch tron` and the API get it."""

from __future__ import annotations

from pydantic import SecretStr

from engine.config import Settings, TronSettings
from watchers.readers import build_readers
from watchers.tron.reader import TronReader


async def test_settings_build_a_tron_reader_with_every_node_and_key() -> None:
    tron = TronSettings(
        enabled=True,
        node_urls=["http://127.0.0.1:1/", "http://127.0.0.1:2/prefix"],
        api_keys=[SecretStr("k-one"), SecretStr("k-two")],
        concurrency=3,
    )
    readers = build_readers(Settings(tron=tron))
    reader = readers["tron"]
    try:
        assert isinstance(reader, TronReader) and reader.chain == "tron"
        # a path prefix survives urljoin only with a trailing slash
        assert [n.url for n in reader.client.nodes] == ["http://127.0.0.1:1/", "http://127.0.0.1:2/prefix/"]
        assert [k.label for k in reader.client.keys] == ["key #1", "key #2"]
        assert "k-one" not in repr(reader.client.keys[0].label)
    finally:
        await reader.aclose()


def test_tron_is_not_built_when_disabled() -> None:
    assert "tron" not in build_readers(Settings())
