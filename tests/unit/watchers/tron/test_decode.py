"""Decoding java-tron transaction infos: address forms, amounts, filters."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.addresses import tron_to_hex41
from engine.chain import ChainTransfer
from tests.factories import tron_address
from tests.fakes.tron_chain import OTHER_TOKENS, USDT, TronChain, hex20
from watchers.tron.decode import (
    MalformedAnswer,
    bare_hex20,
    block_header,
    block_transfers,
    iter_transfers,
    ms_to_datetime,
    tx_infos,
)

BLOCK = 60_000_050
OURS = tron_address(7)
OTHER = tron_address(8)


def keep(infos: list[dict[str, Any]], *recipients: str) -> list[ChainTransfer]:
    ours = frozenset(hex20(r) for r in recipients)
    return block_transfers(infos, contract_hex=hex20(USDT), recipients_hex=ours)


def test_ms_timestamps_become_exact_utc_datetimes() -> None:
    assert ms_to_datetime(1_767_225_603_001) == datetime(2026, 1, 1, 0, 0, 3, 1000, tzinfo=UTC)
    for bad in (True, 1.5e12, -1, 0, "1767225603000", None):
        with pytest.raises(MalformedAnswer):
            ms_to_datetime(bad)


@pytest.mark.parametrize("form", ["base58", "hex41", "0xhex41", "bare", "upper"])
def test_every_address_form_maps_to_the_log_form(form: str) -> None:
    raw = hex20(OURS)
    given = {
        "base58": OURS,
        "hex41": tron_to_hex41(OURS),
        "0xhex41": "0x" + tron_to_hex41(OURS),
        "bare": raw,
        "upper": raw.upper(),
    }[form]
    assert bare_hex20(given) == raw


def test_empty_blocks_as_list_or_object_and_bad_shapes() -> None:
    assert tx_infos([], BLOCK) == []
    assert tx_infos({}, BLOCK) == []
    with pytest.raises(MalformedAnswer):
        tx_infos({"transactionInfo": []}, BLOCK)
    with pytest.raises(MalformedAnswer):
        tx_infos([{"blockNumber": BLOCK}], BLOCK)  # no id
    with pytest.raises(MalformedAnswer, match="infos of block"):
        tx_infos([{"id": "ab" * 32, "blockNumber": BLOCK + 1}], BLOCK)


def test_block_header_number_and_time() -> None:
    chain = TronChain()
    assert block_header(chain.block(BLOCK)) == (BLOCK, ms_to_datetime(chain.block_ms(BLOCK)))
    with pytest.raises(MalformedAnswer):
        block_header({"blockID": "00"})


def test_only_successful_usdt_transfers_to_our_addresses_are_kept() -> None:
    chain = TronChain(noise_usdt=30, noise_other=10)
    wanted = chain.add_transfer(BLOCK, OURS, 13_890_001)
    routed = chain.add_transfer(BLOCK, OURS, 5_000_002, via_router=True)
    chain.add_transfer(BLOCK, OURS, 13_890_001, contract=OTHER_TOKENS[0])  # another token
    chain.add_transfer(BLOCK, OURS, 13_890_001, success=False)  # reverted
    chain.add_transfer(BLOCK, OTHER, 13_890_001)  # not our address
    found = keep(chain.tx_infos(BLOCK), OURS)
    assert [(t.tx_hash, t.log_index, t.amount_units) for t in found] == [
        (wanted.tx_hash, 0, 13_890_001),
        (routed.tx_hash, 2, 5_000_002),  # the Transfer is the third log of the swap
    ]
    first = found[0]
    assert (first.to_address, first.from_address, first.token_contract) == (OURS, wanted.sender, USDT)
    assert first.block_number == BLOCK
    assert first.block_time == ms_to_datetime(chain.block_ms(BLOCK))
    assert first.success is True


def test_a_log_in_a_failed_receipt_is_not_a_transfer() -> None:
    """Real nodes drop logs of reverted calls; if one ever carries a log, it still does not count."""
    chain = TronChain(noise_usdt=0, noise_other=0)
    chain.add_transfer(BLOCK, OURS, 1_000_000)
    infos = copy.deepcopy(chain.tx_infos(BLOCK))
    assert len(keep(infos, OURS)) == 1
    infos[0]["receipt"]["result"] = "OUT_OF_ENERGY"
    assert keep(infos, OURS) == []
    infos[0]["receipt"]["result"] = "SUCCESS"
    infos[0]["result"] = "FAILED"
    assert keep(infos, OURS) == []


def test_non_standard_transfer_logs_are_skipped_and_big_amounts_stay_exact() -> None:
    chain = TronChain(noise_usdt=0, noise_other=0)
    chain.add_transfer(BLOCK, OURS, 1)
    infos = copy.deepcopy(chain.tx_infos(BLOCK))
    log = infos[0]["log"][0]
    log["data"] = format(2**255 + 123_456_789, "064x")
    (big,) = keep(infos, OURS)
    assert big.amount_units == 2**255 + 123_456_789
    log["topics"] = [*log["topics"], "00" * 32]  # ERC721-style: the id is a topic
    assert keep(infos, OURS) == []
    log["topics"] = log["topics"][:3]
    log["data"] = ""
    assert keep(infos, OURS) == []


def test_lookup_decoding_keeps_every_token_and_recipient() -> None:
    chain = TronChain(noise_usdt=0, noise_other=0)
    fake = chain.add_transfer(BLOCK, OURS, 7_000_000, contract=OTHER_TOKENS[1], via_router=True)
    (info,) = chain.tx_infos(BLOCK)
    found = list(iter_transfers(info, contract_hex=None, recipients_hex=None))
    assert [(t.log_index, t.token_contract, t.to_address) for t in found] == [
        (0, OTHER_TOKENS[1], found[0].to_address),
        (2, OTHER_TOKENS[1], OURS),
    ]
    assert found[1].tx_hash == fake.tx_hash


def test_a_garbled_transfer_log_is_an_error_not_a_skip() -> None:
    chain = TronChain(noise_usdt=0, noise_other=0)
    chain.add_transfer(BLOCK, OURS, 1)
    infos = copy.deepcopy(chain.tx_infos(BLOCK))
    infos[0]["log"][0]["data"] = "zz" * 32
    with pytest.raises(MalformedAnswer):
        keep(infos, OURS)
