"""`usdtpay merchant|wallet disable|enable|remove` and `merchant rotate-key`:
removal is refused while live orders use the merchant or the address."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.cli import main
from engine.merchants import get_merchant, list_wallets
from engine.models import Reservation
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, make_merchant, make_wallets, order_row, tron_address


@pytest.fixture
def cli(db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    monkeypatch.delenv("USDTPAY_CONFIG", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_merchant_disable_enable_and_rotate(db: Db, cli) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(make_merchant(db))
    assert cli("merchant", "disable", "--pid", MERCHANT_PID)[:2] == (0, f"merchant {MERCHANT_PID} disabled\n")
    assert asyncio.run(_merchant(db, enabled_only=True)) is None
    assert cli("merchant", "enable", "--pid", MERCHANT_PID)[0] == 0
    old = asyncio.run(_merchant(db)).key
    code, out, _ = cli("merchant", "rotate-key", "--pid", MERCHANT_PID)
    new = asyncio.run(_merchant(db)).key
    assert code == 0 and new != old and out == f"merchant {MERCHANT_PID}: new signing key {new}\n"


def test_merchant_remove_is_refused_while_orders_exist(db: Db, cli) -> None:  # type: ignore[no-untyped-def]
    merchant = asyncio.run(make_merchant(db))
    asyncio.run(_add_order(db, merchant.id))
    code, _, err = cli("merchant", "remove", "--pid", MERCHANT_PID)
    assert code == 2 and "1 live (pending) order(s)" in err
    asyncio.run(make_merchant(db, pid="20002"))
    assert cli("merchant", "remove", "--pid", "20002")[:2] == (0, "merchant 20002 removed\n")
    assert cli("merchant", "remove", "--pid", "20002")[0] == 2


def test_wallet_disable_enable_and_remove(db: Db, cli) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(make_wallets(db, "tron", 2))
    held, free = tron_address(1), tron_address(2)
    asyncio.run(_hold(db, held, datetime.now(UTC) + timedelta(minutes=30)))
    assert cli("wallet", "disable", "--chain", "tron", "--address", held)[0] == 0
    assert [w.enabled for w in asyncio.run(_wallets(db))] == [False, True]
    assert cli("wallet", "enable", "--chain", "tron", "--address", held)[0] == 0
    code, _, err = cli("wallet", "remove", "--chain", "tron", "--address", held)
    assert code == 2 and "holds 1 live order amount(s)" in err and "wallet disable" in err
    assert cli("wallet", "remove", "--chain", "tron", "--address", free)[0] == 0
    assert [w.address for w in asyncio.run(_wallets(db))] == [held]


async def _merchant(db: Db, *, enabled_only: bool = False):  # type: ignore[no-untyped-def]
    async with db.sessions() as session:
        return await get_merchant(session, MERCHANT_PID, include_disabled=not enabled_only)


async def _wallets(db: Db):  # type: ignore[no-untyped-def]
    async with db.sessions() as session:
        return await list_wallets(session, "tron")


async def _add_order(db: Db, merchant_id: int) -> None:
    async with db.sessions() as session:
        session.add(order_row(merchant_id=merchant_id))
        await session.commit()


async def _hold(db: Db, address: str, until: datetime) -> None:
    async with db.sessions() as session:
        session.add(
            Reservation(chain="tron", address=address, amount_units=1_000_001, order_id=1, held_until=until)
        )
        await session.commit()


def test_wallet_list_without_wallets_says_how_to_add_one(db: Db, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("wallet", "list")
    assert (code, out) == (0, "")  # a script reading the list reads none
    assert "no receiving addresses yet" in err and "usdtpay wallet add" in err
    asyncio.run(make_wallets(db, "tron", 1))
    code, out, err = cli("wallet", "list", "--chain", "eth")
    assert (code, out) == (0, "") and "no eth receiving addresses yet" in err
    code, out, err = cli("wallet", "list")
    assert code == 0 and out.startswith("tron\t") and err == ""
