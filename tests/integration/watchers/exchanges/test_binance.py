"""The Binance client against the Binance simulator over loopback HTTP."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.exchanges.binance_sim import DEPOSITS, PAY, BinanceSim
from tests.integration.watchers.exchanges.support import binance_client, check_once, window
from watchers.exchanges.binance.client import BinanceClient, sign, windows
from watchers.exchanges.errors import (
    ExchangeAuthError,
    ExchangeBanned,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
)


def test_signature_is_hex_hmac_of_the_query() -> None:
    query = "recvWindow=5000&timestamp=1499827319559"
    assert sign("s3cr3t", query) == hmac.new(b"s3cr3t", query.encode(), hashlib.sha256).hexdigest()


def test_windows_stay_under_ninety_days() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    spans = windows(start, start + timedelta(days=200))
    assert spans[0][0] == start and spans[-1][1] == start + timedelta(days=200)
    assert all(high - low < timedelta(days=90) for low, high in spans)


async def test_a_reading_key_is_read_only(binance: BinanceClient) -> None:
    check = await binance.check_key()
    assert check.uid == "354937868" and check.rights == {"read"} and check.read_only


@pytest.mark.parametrize(
    ("flag", "right"),
    [
        ("enableWithdrawals", "withdraw"),
        ("enableSpotAndMarginTrading", "trade"),
        ("enableInternalTransfer", "transfer"),
    ],
)
async def test_rights_beyond_reading_are_reported(binance_sim: BinanceSim, flag: str, right: str) -> None:
    check = await check_once(binance_client(binance_sim, binance_sim.add_key(**{flag: True})))
    assert check.excess_rights == {right} and not check.read_only


@pytest.mark.parametrize(
    ("override", "code", "reason"),
    [({"secret": "wrong"}, "-1022", "signature"), ({"api_key": "nobody"}, "-2015", "unknown key")],
)
async def test_bad_credentials_are_refused(
    binance_sim: BinanceSim, override: dict[str, str], code: str, reason: str
) -> None:
    with pytest.raises(ExchangeAuthError) as caught:
        await check_once(binance_client(binance_sim, binance_sim.add_key(), **override))
    assert caught.value.code == code and binance_sim.refused[reason] == 1


async def test_minus_1021_re_syncs_with_server_time(binance_sim: BinanceSim) -> None:
    binance_sim.skew_s = -30.0  # our clock is ahead of Binance's: outside recvWindow
    client = binance_client(binance_sim, binance_sim.add_key())
    await check_once(client)
    assert binance_sim.refused["stale timestamp"] == 1 and binance_sim.counts["/api/v3/time"] == 1
    assert -40_000 < client.http.offset_ms < -20_000


async def test_deposits_page_by_offset_and_pay_by_halving_the_window(
    binance_sim: BinanceSim, binance: BinanceClient
) -> None:
    now = datetime.now(UTC)
    deposits = [
        binance_sim.add_deposit(amount="1.00000000", insert=now - timedelta(milliseconds=100 * i))
        for i in range(2100)
    ]
    pays = [binance_sim.add_pay(amount="2.5", when=now - timedelta(milliseconds=7 * i)) for i in range(230)]
    binance_sim.add_pay(amount="-9", when=now)  # money going out is not incoming
    records = await binance.incoming(*window(now))
    ids = {r.record_id for r in records}
    assert ids == {f"dep:{d['id']}" for d in deposits} | {f"pay:{p['transactionId']}" for p in pays}
    assert binance_sim.counts[DEPOSITS] == 3  # 1000 + 1000 + 100
    assert binance_sim.counts[PAY] > 3  # full pages split the window


async def test_record_fields(binance_sim: BinanceSim, binance: BinanceClient) -> None:
    internal = binance_sim.add_deposit(amount="12.00000100")
    waiting = binance_sim.add_deposit(amount="3", status=0, internal=False)
    held = binance_sim.add_pay(amount="4.000002", order_type="C2C_HOLDING")
    sent = binance_sim.add_pay(amount="5.000003", currency="BUSD")
    found = {r.record_id: r for r in await binance.incoming(*window())}
    a, b = found[f"dep:{internal['id']}"], found[f"dep:{waiting['id']}"]
    c, d = found[f"pay:{held['transactionId']}"], found[f"pay:{sent['transactionId']}"]
    assert (a.amount_units, a.final, a.internal, a.refs["txId"]) == (12_000_001, True, True, internal["txId"])
    assert not b.final and b.internal is False and b.state == "0"
    assert not c.final and c.state == "C2C_HOLDING"
    assert d.final and d.currency == "BUSD" and d.sender == "39876543" and d.amount_units == 5_000_003


async def test_find_by_internal_transfer_number_and_by_pay_transaction_id(
    binance_sim: BinanceSim, binance: BinanceClient
) -> None:
    row = binance_sim.add_deposit(amount="6.000001")
    pay = binance_sim.add_pay(amount="6.000002")
    number = row["txId"].removeprefix("Internal transfer ")
    start, end = window()
    assert [r.record_id for r in await binance.find(number, "", start, end)] == [f"dep:{row['id']}"]
    assert [r.record_id for r in await binance.find(pay["transactionId"], "", start, end)] == [
        f"pay:{pay['transactionId']}"
    ]


async def test_429_is_honoured_so_binance_never_bans(binance_sim: BinanceSim, binance: BinanceClient) -> None:
    binance_sim.pool_limits["ip"] = 2
    start, end = window()
    binance.sources = ("deposit",)
    await binance.incoming(start, end)
    await binance.incoming(start, end)
    with pytest.raises(ExchangeRateLimited) as caught:
        await binance.incoming(start, end)
    assert caught.value.retry_after == 2.0
    binance_sim.pool_limits["ip"] = 12_000
    await binance.incoming(start, end)  # waits out Retry-After first
    assert binance_sim.refused["asked during Retry-After"] == 0 and binance_sim.refused["banned"] == 0


async def test_a_418_ban_pauses_for_its_retry_after(binance_sim: BinanceSim, binance: BinanceClient) -> None:
    binance_sim.fail("ban", path=DEPOSITS)
    with pytest.raises(ExchangeBanned) as caught:
        await binance.incoming(*window())
    assert caught.value.retry_after == 3.0
    assert binance.buckets["sapi_ip"].paused_until > 0


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("5xx", ExchangeError),
        ("timeout", ExchangeError),
        ("garbage", ExchangeMalformed),
        ("malformed", ExchangeMalformed),
        ("auth", ExchangeAuthError),
    ],
)
async def test_failures_surface_as_provider_errors(
    binance_sim: BinanceSim, binance: BinanceClient, kind: str, error: type[Exception]
) -> None:
    binance_sim.fail(kind, path=PAY)
    with pytest.raises(error):
        await binance.incoming(*window())
    assert await binance.incoming(*window()) == []
