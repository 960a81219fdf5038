"""A simulated TRON chain served by one or more loopback nodes, and readers on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.fakes.tron_chain import USDT, TronChain
from tests.fakes.tron_node import TronNodeSim
from watchers.tron.client import TronNodeClient
from watchers.tron.reader import TronReader

FIRST = 60_000_000


@pytest.fixture
def chain() -> TronChain:
    return TronChain(first_block=FIRST, head=FIRST + 200, noise_usdt=15, noise_other=6)


NodeFactory = Callable[..., TronNodeSim]


@pytest.fixture
def nodes(chain: TronChain) -> Iterator[NodeFactory]:
    """`nodes(api_keys=..., solid_behind=..., empty_style=...)` starts one more node."""
    with ExitStack() as stack:

        def start(**options: Any) -> TronNodeSim:
            return stack.enter_context(TronNodeSim(chain, **options))

        yield start


@pytest.fixture
def node(nodes: NodeFactory) -> TronNodeSim:
    return nodes()


ReaderFactory = Callable[..., TronReader]


@pytest.fixture
async def make_reader() -> AsyncIterator[ReaderFactory]:
    """`make_reader([node, ...], keys=[...], timeout_s=...)`; readers are closed after the test."""
    made: list[TronReader] = []

    def build(
        on: list[TronNodeSim], keys: list[str] | None = None, *, concurrency: int = 4, **client: Any
    ) -> TronReader:
        options = {"timeout_s": 2.0, "max_inline_wait_s": 1.0, **client}
        reader = TronReader(
            TronNodeClient([n.url for n in on], keys, **options), usdt_contract=USDT, concurrency=concurrency
        )
        made.append(reader)
        return reader

    yield build
    for reader in made:
        await reader.aclose()


def as_tuples(transfers: list[Any]) -> list[tuple[str, int, str, int]]:
    return sorted((t.tx_hash, t.log_index, t.to_address, t.amount_units) for t in transfers)
