"""Build the chain readers a deployment's settings call for.

The API (supplement) and the `usdtpay watch` / `usdtpay run` processes get
their readers here, so each chain's reader is constructed in one place. The
API opens a reader per supplement call: supplements are rare, and a
short-lived reader needs no lifecycle beyond the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from engine.chain import CHAINS, ChainReader, chain_enabled
from engine.config import Settings
from engine.errors import Unavailable


class ClosableReader(ChainReader, Protocol):
    async def aclose(self) -> None: ...


def build_reader(settings: Settings, chain: str) -> ClosableReader:
    """A reader for `chain` from its settings group; the caller closes it."""
    if chain == "eth":
        from watchers.evm.reader import EvmReader

        return EvmReader.from_settings(settings.eth)
    if chain == "tron":
        from watchers.tron.reader import build_tron_reader

        reader: ClosableReader = build_tron_reader(settings)
        return reader
    raise Unavailable(f"unknown chain {chain!r}: use tron or eth")


def build_readers(settings: Settings) -> dict[str, ClosableReader]:
    """Readers for every chain enabled in the settings, by chain name."""
    return {chain: build_reader(settings, chain) for chain in CHAINS if chain_enabled(settings, chain)}


ENV_GROUP = {"eth": "ETH", "tron": "TRON"}


@asynccontextmanager
async def open_reader(settings: Settings, chain: str) -> AsyncIterator[ClosableReader]:
    if not chain_enabled(settings, chain):
        group = ENV_GROUP.get(chain, chain.upper())
        raise Unavailable(
            f"the {chain} chain is not enabled here; set USDTPAY_{group}__ENABLED=true and its node URLs"
        )
    reader = build_reader(settings, chain)
    try:
        yield reader
    finally:
        await reader.aclose()
