"""The OKX client against the OKX simulator over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.exchanges.okx_sim import DEPOSITS, OkxSim
from tests.integration.watchers.exchanges.support import check_once, okx_client, window
from watchers.exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
)
from watchers.exchanges.okx.client import OkxClient, iso_ms, sign


def test_signature_is_base64_hmac_of_timestamp_method_path_and_body() -> None:
    secret, prehash = (
        "22582BD0CFF14C41EDBF1AB98506286D",
        "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC",
    )
    expected = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
    assert sign(secret, "2020-12-08T09:08:57.715Z", "get", "/api/v5/account/balance?ccy=BTC") == expected
    assert iso_ms(1607418537715) == "2020-12-08T09:08:57.715Z"


async def test_a_read_only_key_is_checked_with_its_owner(okx: OkxClient) -> None:
    check = await okx.check_key()
    assert check.uid == "44705892343619584"
    assert check.rights == {"read"} and check.can_read_deposits and check.read_only


async def test_a_key_with_withdrawal_rights_is_reported_as_such(okx_sim: OkxSim) -> None:
    check = await check_once(okx_client(okx_sim, okx_sim.add_key(perm="read_only,withdraw,trade")))
    assert check.excess_rights == {"withdraw", "trade"} and not check.read_only


@pytest.mark.parametrize(
    ("override", "code", "reason"),
    [
        ({"secret": "WRONG"}, "50113", "signature"),
        ({"passphrase": "wrong"}, "50105", "passphrase"),
        ({"passphrase": ""}, "50104", "missing ok-access-passphrase"),
        ({"api_key": "unknown"}, "50111", "unknown key"),
    ],
)
async def test_the_simulator_refuses_what_okx_refuses(
    okx_sim: OkxSim, override: dict[str, str], code: str, reason: str
) -> None:
    with pytest.raises(ExchangeAuthError) as caught:
        await check_once(okx_client(okx_sim, okx_sim.add_key(), **override))
    assert caught.value.code == code
    assert okx_sim.refused[reason] == 1


async def test_a_skewed_clock_re_syncs_with_public_time_and_retries_once(okx_sim: OkxSim) -> None:
    okx_sim.skew_s = 120.0  # OKX refuses timestamps more than 30 s off
    client = okx_client(okx_sim, okx_sim.add_key())
    try:
        assert (await client.check_key()).uid
        assert okx_sim.refused["stale timestamp"] == 1
        assert okx_sim.counts["/api/v5/public/time"] == 1
        assert 100_000 < client.http.offset_ms < 140_000
        await client.check_key()  # the offset sticks
        assert okx_sim.refused["stale timestamp"] == 1
    finally:
        await client.aclose()


async def test_records_in_the_window_across_pages_even_when_a_millisecond_straddles_a_page(
    okx_sim: OkxSim, okx: OkxClient
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    okx_sim.add_deposit(amt="1", ts=start - timedelta(seconds=1))  # before the window
    okx_sim.add_deposit(amt="1", ts=start + timedelta(hours=2))  # after it
    same_ms = start + timedelta(minutes=1)
    straddling = [okx_sim.add_deposit(amt=f"5.00000{i}", ts=same_ms) for i in range(5)]
    newer = [okx_sim.add_deposit(amt="2", ts=same_ms + timedelta(seconds=i + 1)) for i in range(99)]
    older = okx_sim.add_deposit(amt="3", ts=start)  # exactly at the start: inside
    records = await okx.incoming(start, start + timedelta(hours=1))
    assert {r.record_id for r in records} == {r["depId"] for r in [*straddling, *newer, older]}
    assert okx_sim.counts[DEPOSITS] == 2


async def test_a_record_keeps_the_exchange_text_and_exact_units(okx_sim: OkxSim, okx: OkxClient) -> None:
    now = datetime.now(UTC)
    rows = [
        okx_sim.add_deposit(amt="12.000001", from_="payer@example.com"),
        okx_sim.add_deposit(amt="12.0000001"),  # more precision than USDT has
        okx_sim.add_deposit(amt="7", ccy="USDC"),
        okx_sim.add_deposit(amt="9.5", state="0"),
        okx_sim.add_deposit(amt="4", internal=False),
    ]
    found = {r.record_id: r for r in await okx.incoming(*window(now, back=timedelta(minutes=1)))}
    first, precise, usdc, waiting, chain = (found[r["depId"]] for r in rows)
    assert (first.amount_units, first.currency, first.final, first.internal) == (
        12_000_001,
        "USDT",
        True,
        True,
    )
    assert first.sender == "payer@example.com" and first.refs["fromWdId"] == rows[0]["fromWdId"]
    assert precise.amount_units is None and precise.amount_text == "12.0000001"
    assert usdc.currency == "USDC"
    assert not waiting.final and waiting.state == "0"
    assert chain.internal is False and chain.refs["txId"] == rows[4]["txId"]


async def test_find_asks_by_deposit_id_and_by_the_senders_withdrawal_id(
    okx_sim: OkxSim, okx: OkxClient
) -> None:
    row = okx_sim.add_deposit(amt="3.000002")
    okx_sim.add_deposit(amt="3.000003")
    now = datetime.now(UTC)
    by_dep = await okx.find(row["depId"], "", now, now)
    by_wd = await okx.find("nothing-like-it", row["fromWdId"], now, now)
    assert [r.record_id for r in by_dep] == [r.record_id for r in by_wd] == [row["depId"]]


async def test_the_budget_stays_under_the_documented_limit(okx_sim: OkxSim, okx: OkxClient) -> None:
    now = datetime.now(UTC)
    for _ in range(8):  # more than OKX's 6 / s, spaced by the client's half share
        await okx.incoming(now - timedelta(minutes=1), now)
    assert okx_sim.refused["rate_limit"] == 0


async def test_429_pauses_the_bucket_for_the_retry_after(okx_sim: OkxSim, okx: OkxClient) -> None:
    okx_sim.set_limit(DEPOSITS, 1, 60.0)
    now = datetime.now(UTC)
    await okx.incoming(now - timedelta(minutes=1), now)
    with pytest.raises(ExchangeRateLimited) as caught:
        await okx.incoming(now - timedelta(minutes=1), now)
    assert caught.value.code == "50011" and caught.value.retry_after == 1.0
    assert okx.buckets[DEPOSITS].paused_until > 0


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("5xx", ExchangeError),
        ("timeout", ExchangeError),
        ("garbage", ExchangeMalformed),
        ("malformed", ExchangeMalformed),
        ("auth", ExchangeAuthError),
        ("ratelimit", ExchangeRateLimited),
    ],
)
async def test_failures_surface_as_provider_errors(
    okx_sim: OkxSim, okx: OkxClient, kind: str, error: type[Exception]
) -> None:
    okx_sim.fail(kind, path=DEPOSITS)
    now = datetime.now(UTC)
    with pytest.raises(error) as caught:
        await okx.incoming(now - timedelta(minutes=1), now)
    if kind in ("5xx", "timeout"):
        assert not isinstance(caught.value, ExchangeAuthError | ExchangeMalformed)
    assert await okx.incoming(now - timedelta(minutes=1), now) == []  # the next call works again
