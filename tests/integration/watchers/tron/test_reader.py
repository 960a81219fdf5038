"""The TRON reader against the node simulator over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import tron_address
from tests.fakes.tron_chain import OTHER_TOKENS, USDT, TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.watchers.tron.support import FIRST, NodeFactory, ReaderFactory, as_tuples
from watchers.tron.client import TronNodeError

OURS = [tron_address(100 + i) for i in range(5)]
INFO = "/walletsolidity/gettransactioninfobyblocknum"


def plant(chain: TronChain) -> None:
    """Transfers to our addresses among the noise, plus look-alikes that must not count."""
    chain.add_transfer(FIRST + 3, OURS[0], 13_890_001)
    chain.add_transfer(FIRST + 3, OURS[1], 1)
    chain.add_transfer(FIRST + 7, OURS[2], 250_000_000, via_router=True)
    chain.add_transfer(FIRST + 9, OURS[0], 13_890_001, contract=OTHER_TOKENS[0])
    chain.add_transfer(FIRST + 9, OURS[3], 99_000_000, success=False)
    chain.add_transfer(FIRST + 11, tron_address(999), 5_000_000)


async def test_a_range_yields_exactly_the_successful_usdt_transfers_to_us(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    plant(chain)
    reader = make_reader([node])
    found = await reader.transfers(FIRST, FIRST + 15, frozenset(OURS))
    assert as_tuples(found) == sorted(chain.transfers_to(set(OURS), FIRST, FIRST + 15))
    assert {t.amount_units for t in found} == {13_890_001, 1, 250_000_000}
    assert all(t.token_contract == USDT and t.chain == "tron" and t.success for t in found)
    routed = next(t for t in found if t.amount_units == 250_000_000)
    assert routed.log_index == 2 and routed.block_number == FIRST + 7
    assert routed.block_time == datetime.fromtimestamp(chain.block_ms(FIRST + 7) // 1000, UTC)


async def test_one_info_request_per_block_whatever_the_number_of_addresses(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    plant(chain)
    reader = make_reader([node])
    few = await reader.transfers(FIRST, FIRST + 39, frozenset(OURS[:1]))
    assert node.counts[INFO] == 40
    many = frozenset(OURS + [tron_address(10_000 + i) for i in range(5_000)])
    more = await reader.transfers(FIRST + 40, FIRST + 79, many)
    assert node.counts[INFO] == 80
    # Besides: one solid-head check when the reader starts; no per-address or block-time calls.
    assert node.total_requests() == 81 and node.counts["/walletsolidity/getnowblock"] == 1
    assert len(few) == 1 and more == []


async def test_heads_report_the_solidified_head_about_19_blocks_behind(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    heads = await make_reader([node]).heads()
    assert (heads.head, heads.final) == (chain.head, chain.head - 19)
    assert heads.head_time == datetime.fromtimestamp(chain.block_ms(chain.head) // 1000, UTC)


@pytest.mark.parametrize("style", ["list", "object"])
async def test_empty_blocks_answered_as_list_or_object(
    style: str, nodes: NodeFactory, chain: TronChain, make_reader: ReaderFactory
) -> None:
    chain.empty_every = 2  # every even block has no transactions at all
    chain.add_transfer(FIRST + 5, OURS[0], 42)
    node = nodes(empty_style=style)
    found = await make_reader([node]).transfers(FIRST, FIRST + 9, frozenset(OURS))
    assert [t.amount_units for t in found] == [42]
    assert node.counts[INFO] == 10


async def test_a_block_the_node_has_not_solidified_is_never_read_as_empty(
    chain: TronChain, nodes: NodeFactory, make_reader: ReaderFactory
) -> None:
    """The solidity API answers `[]` above its solid head: that must not pass for an empty block."""
    lagging = nodes(solid_behind=10)
    reader = make_reader([lagging])
    beyond = chain.solid - 5  # final on the chain, not yet on this node
    chain.add_transfer(beyond, OURS[0], 7)
    with pytest.raises(TronNodeError, match="solidified"):
        await reader.transfers(beyond, beyond, frozenset(OURS))
    lagging.solid_behind = 0  # the node catches up
    assert [t.amount_units for t in await reader.transfers(beyond, beyond, frozenset(OURS))] == [7]


async def test_block_time_and_unknown_blocks(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    reader = make_reader([node])
    assert await reader.block_time(FIRST + 1) == datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)
    with pytest.raises(TronNodeError, match="not known"):
        await reader.block_time(chain.head + 5)


async def test_transaction_lookup_for_supplement(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    reader = make_reader([node])
    final = chain.add_transfer(FIRST + 20, OURS[0], 13_890_001, via_router=True)
    recent = chain.add_transfer(chain.head - 2, OURS[0], 5)
    failed = chain.add_transfer(FIRST + 21, OURS[0], 5, success=False)
    fake = chain.add_transfer(FIRST + 22, OURS[0], 13_890_001, contract=OTHER_TOKENS[0])

    found = await reader.transaction("0x" + final.tx_hash.upper())
    assert (found.found, found.final, found.success, found.block_number) == (True, True, True, FIRST + 20)
    assert found.block_time == datetime.fromtimestamp(chain.block_ms(FIRST + 20) // 1000, UTC)
    usdt = [t for t in found.transfers if t.token_contract == USDT]
    assert [(t.to_address, t.amount_units, t.log_index) for t in usdt] == [(OURS[0], 13_890_001, 2)]
    assert len(found.transfers) == 2  # the router leg of another token is reported too

    pending = await reader.transaction(recent.tx_hash)
    assert (pending.found, pending.final) == (True, False)
    reverted = await reader.transaction(failed.tx_hash)
    assert (reverted.found, reverted.success, reverted.transfers) == (True, False, ())
    other = await reader.transaction(fake.tx_hash)
    assert [t.token_contract for t in other.transfers] == [OTHER_TOKENS[0]]
    assert (await reader.transaction("ab" * 32)).found is False


async def test_api_keys_are_sent_and_rotated(
    chain: TronChain, nodes: NodeFactory, make_reader: ReaderFactory
) -> None:
    node = nodes(api_keys={"key-one", "key-two"})
    reader = make_reader([node], ["key-one", "key-two"])
    await reader.transfers(FIRST, FIRST + 19, frozenset(OURS))
    assert node.rejected == {}
    one, two = node.key_counts["key-one"], node.key_counts["key-two"]
    assert one + two == node.total_requests() == 21 and abs(one - two) <= 1


async def test_a_wrong_key_is_an_error_that_names_the_setting(
    chain: TronChain, nodes: NodeFactory, make_reader: ReaderFactory
) -> None:
    node = nodes(api_keys={"right"})
    with pytest.raises(TronNodeError, match="refused"):
        await make_reader([node], ["wrong"]).transfers(FIRST, FIRST, frozenset(OURS))
    assert node.rejected["bad_key"] == 1  # refused once, then the key is left alone
