"""Every fault the simulator can play: the reader fails over, rotates keys,
backs off, and either returns the complete answer or raises — never a
partial or empty range that would let the cursor skip transfers."""

from __future__ import annotations

import pytest

from tests.factories import tron_address
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.watchers.tron.support import FIRST, NodeFactory, ReaderFactory, as_tuples
from watchers.errors import MalformedResponse, ProviderError, RateLimited
from watchers.tron.client import TronNodeError

OURS = frozenset(tron_address(200 + i) for i in range(3))
INFO = "/walletsolidity/gettransactioninfobyblocknum"
START, END = FIRST + 10, FIRST + 29
TRANSIENT = ["429", "500", "502", "503", "timeout", "error_body", "malformed", "disconnect"]


@pytest.fixture
def planted(chain: TronChain) -> list[tuple[str, int, str, int]]:
    for i, address in enumerate(sorted(OURS)):
        chain.add_transfer(START + 3 * i, address, 1_000_000 + i)
    chain.add_transfer(END, sorted(OURS)[0], 77, via_router=True)
    return sorted(chain.transfers_to(set(OURS), START, END))


@pytest.mark.parametrize("kind", TRANSIENT)
async def test_a_failing_node_fails_over_to_the_next(
    kind: str, nodes: NodeFactory, make_reader: ReaderFactory, planted: list[tuple[str, int, str, int]]
) -> None:
    first, second = nodes(), nodes()
    first.fail(kind, path="gettransactioninfobyblocknum", times=2, delay_s=1.5)
    reader = make_reader([first, second], timeout_s=0.4)
    found = await reader.transfers(START, END, OURS)
    assert as_tuples(found) == planted
    # every block was answered once; the failed requests were asked again elsewhere
    assert first.counts[INFO] + second.counts[INFO] == (END - START + 1) + 2
    assert second.counts[INFO] >= 2


@pytest.mark.parametrize("kind", ["503", "error_body", "429"])
async def test_a_single_node_is_retried_after_its_backoff(
    kind: str, node: TronNodeSim, make_reader: ReaderFactory, planted: list[tuple[str, int, str, int]]
) -> None:
    node.fail(kind, path="gettransactioninfobyblocknum", times=1)
    found = await make_reader([node], max_inline_wait_s=1.5).transfers(START, END, OURS)
    assert as_tuples(found) == planted
    assert node.counts[INFO] == (END - START + 1) + 1


@pytest.mark.parametrize(
    ("kind", "error"), [("500", ProviderError), ("malformed", MalformedResponse), ("429", RateLimited)]
)
async def test_a_node_that_keeps_failing_raises_instead_of_answering_short(
    kind: str, error: type[Exception], node: TronNodeSim, make_reader: ReaderFactory, planted: object
) -> None:
    node.fail(kind, path="gettransactioninfobyblocknum", times=10_000)
    reader = make_reader([node], max_inline_wait_s=0.2)
    with pytest.raises(error) as raised:
        await reader.transfers(START, END, OURS)
    assert isinstance(raised.value, TronNodeError)
    assert raised.value.retry_after and raised.value.retry_after > 0


async def test_a_suspended_key_is_rested_and_the_next_key_used(
    nodes: NodeFactory, make_reader: ReaderFactory, planted: list[tuple[str, int, str, int]]
) -> None:
    node = nodes(api_keys={"k1", "k2"})
    node.fail("403_suspended", path="gettransactioninfobyblocknum", times=1, suspend_s=30)
    reader = make_reader([node], ["k1", "k2"], concurrency=1)  # nothing in flight when the 403 lands
    found = await reader.transfers(START, END, OURS)
    assert as_tuples(found) == planted
    assert node.rejected["while_suspended"] == 0  # the suspended key was not used again
    suspended = next(iter(node.suspended_until))
    before = dict(node.key_counts)
    await reader.transfers(END + 1, END + 10, OURS)
    assert node.key_counts[suspended] == before[suspended]


async def test_with_one_key_a_suspension_is_waited_out_not_hammered(
    nodes: NodeFactory, make_reader: ReaderFactory, planted: object, caplog: pytest.LogCaptureFixture
) -> None:
    node = nodes(api_keys={"only-key-7f3a"})
    node.fail("403_suspended", path="gettransactioninfobyblocknum", times=1, suspend_s=30)
    reader = make_reader([node], ["only-key-7f3a"], concurrency=1)
    with pytest.raises(RateLimited) as raised:
        await reader.transfers(START, END, OURS)
    assert 29 <= (raised.value.retry_after or 0) <= 30
    asked = node.total_requests()
    with pytest.raises(RateLimited):
        await reader.transfers(START, END, OURS)
    assert node.total_requests() == asked  # nothing sent while the key is suspended
    assert node.rejected["while_suspended"] == 0
    assert "key #1" in caplog.text and "only-key-7f3a" not in caplog.text  # keys are secrets: never logged


async def test_without_keys_a_rate_limit_rests_the_node_and_uses_another(
    nodes: NodeFactory, make_reader: ReaderFactory, planted: list[tuple[str, int, str, int]]
) -> None:
    limited, spare = nodes(), nodes()
    limited.fail("403_suspended", path="gettransactioninfobyblocknum", times=1, suspend_s=30)
    reader = make_reader([limited, spare], concurrency=1)
    assert as_tuples(await reader.transfers(START, END, OURS)) == planted
    served = limited.counts[INFO]
    await reader.transfers(END + 1, END + 5, OURS)
    assert limited.counts[INFO] == served  # still resting
    assert spare.counts[INFO] >= (END - START + 1) - served + 5


async def test_heads_and_lookups_fail_over_too(
    chain: TronChain, nodes: NodeFactory, make_reader: ReaderFactory
) -> None:
    first, second = nodes(), nodes()
    first.fail("502", times=3)
    reader = make_reader([first, second])
    heads = await reader.heads()
    assert heads.final == chain.solid
    planted = chain.add_transfer(FIRST + 5, sorted(OURS)[0], 9)
    second.fail("error_body", path="gettransactioninfobyid", times=1)
    assert (await reader.transaction(planted.tx_hash)).found
