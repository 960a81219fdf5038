"""Simulators for the exchange client tests, as fixtures (conftest.py re-exports them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.exchanges.binance_sim import BinanceSim
from tests.fakes.exchanges.htx_sim import HtxSim
from tests.fakes.exchanges.okx_sim import OkxSim


@pytest.fixture
def okx_sim() -> Iterator[OkxSim]:
    with OkxSim(timeout_s=2.0) as sim:
        yield sim


@pytest.fixture
def binance_sim() -> Iterator[BinanceSim]:
    with BinanceSim(timeout_s=2.0) as sim:
        yield sim


@pytest.fixture
def htx_sim() -> Iterator[HtxSim]:
    with HtxSim(timeout_s=2.0) as sim:
        yield sim
