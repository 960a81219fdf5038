"""Supplement by tx hash (invariant 6): each failed check is its own error."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.chain import ChainTransfer, TxLookup
from engine.models import Notification, Order, Transfer
from engine.settlement import ingest
from engine.supplement import (
    AmountDiffers,
    HashUsed,
    OrderAlreadyPaid,
    PayerDiffers,
    SupplementRejected,
    TxFailed,
    TxNotFinal,
    TxNotFound,
    TxTooEarly,
    TxTooLate,
    WrongRecipient,
    WrongToken,
    verify_and_settle,
)
from tests.dbharness import Db
from tests.factories import PAYER, T0, eth_address, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES

NOW = T0 + timedelta(hours=3)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 1)
    return any_db


def lookup_of(*transfers: ChainTransfer, **changes: object) -> TxLookup:
    first = transfers[0]
    found = TxLookup(
        found=True,
        block_number=first.block_number,
        block_time=first.block_time,
        success=True,
        final=True,
        transfers=transfers,
    )
    return replace(found, **changes)  # type: ignore[arg-type]


async def supplement(db: Db, order: Order, lookup: TxLookup, tx_hash: str, payer: str | None = None) -> Order:
    async with db.sessions() as session:
        paid = await verify_and_settle(session, order.id, tx_hash, lookup, RULES, NOW, payer=payer)
        await session.commit()
        return paid


async def test_a_good_hash_settles_like_the_watcher(shop: Db) -> None:
    order = await make_order(shop)
    t = paying(order)
    paid = await supplement(shop, order, lookup_of(t), "0x" + t.tx_hash.upper(), payer=PAYER.lower())
    assert (paid.status, paid.tx_hash, paid.payer_address) == ("paid", t.tx_hash, PAYER)
    async with shop.sessions() as session:
        [row] = await session.scalars(select(Transfer))
        assert (row.status, row.source, row.order_id) == ("matched", "supplement", order.id)
        assert len(list(await session.scalars(select(Notification)))) == 1
    # A retry of the same supplement answers the paid order again.
    again = await supplement(shop, order, TxLookup(found=False), t.tx_hash)
    assert again.status == "paid"
    # The watcher seeing the same log later is a no-op.
    async with shop.sessions() as session:
        result = await ingest(session, "eth", [t], NOW, RULES)
        await session.commit()
    assert result.duplicates == 1 and result.recorded == 0


def _cases() -> list[tuple[str, type[SupplementRejected]]]:
    return [
        ("not_found", TxNotFound),
        ("not_final", TxNotFinal),
        ("failed", TxFailed),
        ("other_token", WrongToken),
        ("other_recipient", WrongRecipient),
        ("amount", AmountDiffers),
        ("payer", PayerDiffers),
        ("early", TxTooEarly),
        ("late", TxTooLate),
    ]


@pytest.mark.parametrize(("case", "error"), _cases())
async def test_each_failed_check_is_reported(shop: Db, case: str, error: type[SupplementRejected]) -> None:
    order = await make_order(shop)
    assert order.usdt_units is not None
    t = paying(order)
    lookups = {
        "not_found": TxLookup(found=False),
        "not_final": lookup_of(t, final=False),
        "failed": lookup_of(t, success=False),
        "other_token": lookup_of(replace(t, token_contract=eth_address(0xD00D))),
        "other_recipient": lookup_of(replace(t, to_address=eth_address(77))),
        "amount": lookup_of(replace(t, amount_units=order.usdt_units - 1)),
        "payer": lookup_of(t),
        "early": lookup_of(replace(t, block_time=order.created_at - timedelta(seconds=1))),
        "late": lookup_of(replace(t, block_time=order.expires_at + timedelta(minutes=31))),
    }
    payer = eth_address(0x1234) if case == "payer" else None
    with pytest.raises(error) as caught:
        await supplement(shop, order, lookups[case], t.tx_hash, payer=payer)
    assert caught.value.code == error.code and caught.value.status == 422
    async with shop.sessions() as session:
        assert (await session.get(Order, order.id)).status == "pending"  # type: ignore[union-attr]


async def test_hash_of_another_order_is_refused(shop: Db) -> None:
    first = await make_order(shop)
    second = await make_order(shop, amount_units=first.usdt_price_units or 0)
    t = paying(first)
    await supplement(shop, first, lookup_of(t), t.tx_hash)
    # The same tx presented for the second order (even if it had a log for it).
    with pytest.raises(HashUsed):
        await supplement(
            shop, second, lookup_of(t, transfers=(t, paying(second, tx_hash=t.tx_hash))), t.tx_hash
        )


async def test_order_paid_by_another_hash_says_so(shop: Db) -> None:
    order = await make_order(shop)
    t = paying(order)
    await supplement(shop, order, lookup_of(t), t.tx_hash)
    with pytest.raises(OrderAlreadyPaid, match=t.tx_hash):
        await supplement(shop, order, lookup_of(t), "ab" * 32)


async def test_a_transfer_recorded_unmatched_is_repointed(shop: Db) -> None:
    """E.g. the order was closed when the watcher saw it, then reopened by an operator."""
    order = await make_order(shop)
    t = paying(order)
    async with shop.sessions() as session:
        row = await session.get(Order, order.id)
        assert row is not None
        row.status = "closed"
        await ingest(session, "eth", [t], NOW, RULES)
        row.status = "expired"
        await session.commit()
    paid = await supplement(shop, order, lookup_of(t), t.tx_hash)
    assert paid.status == "paid"
    async with shop.sessions() as session:
        [transfer] = await session.scalars(select(Transfer))
        assert (transfer.status, transfer.reason, transfer.order_id) == ("matched", None, order.id)


async def test_type_2_and_fiat_orders_are_refused_clearly(shop: Db) -> None:
    from engine.supplement import NotOnChainOrder, Unsupported, check_order

    order = await make_order(shop)
    order.extra = {"type": 2}
    with pytest.raises(Unsupported, match="not supported yet"):
        check_order(order, "ab" * 32)
    order.extra, order.chain = {}, None
    with pytest.raises(NotOnChainOrder):
        check_order(order, "ab" * 32)
