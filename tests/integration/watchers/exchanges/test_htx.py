"""The HTX client against the HTX simulator over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.exchanges.htx_sim import DEPOSITS, HtxSim
from tests.integration.watchers.exchanges.support import check_once, htx_client, window
from watchers.exchanges.errors import ExchangeAuthError, ExchangeError, ExchangeMalformed, ExchangeRateLimited
from watchers.exchanges.htx.client import HtxClient, canonical, sign

BACK = timedelta(hours=1)  # windows reach back an hour: the paging test's recent records span 18 min


def test_signature_v2_text_and_encoding() -> None:
    params = {
        "AccessKeyId": "e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx",
        "order-id": "1234567890",
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": "2017-05-11T15:19:30",
    }
    query = canonical(params)
    assert query == (
        "AccessKeyId=e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx&SignatureMethod=HmacSHA256"
        "&SignatureVersion=2&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890"
    )
    text = f"GET\napi.huobi.pro\n/v1/order/orders\n{query}"
    expected = base64.b64encode(hmac.new(b"k", text.encode(), hashlib.sha256).digest()).decode()
    assert sign("k", "GET", "API.huobi.pro", "/v1/order/orders", query) == expected


async def test_a_read_only_key(htx: HtxClient) -> None:
    check = await htx.check_key()
    assert check.uid == "63628520" and check.rights == {"read"} and check.read_only


async def test_a_key_that_can_withdraw_is_reported(htx_sim: HtxSim) -> None:
    check = await check_once(htx_client(htx_sim, htx_sim.add_key(permission="readOnly,trade,withdraw")))
    assert check.excess_rights == {"trade", "withdraw"}


async def test_a_wrong_secret_is_refused_after_one_clock_re_sync(htx_sim: HtxSim) -> None:
    with pytest.raises(ExchangeAuthError):
        await check_once(htx_client(htx_sim, htx_sim.add_key(), secret="wrong"))
    assert htx_sim.refused["signature"] == 2 and htx_sim.counts["/v1/common/timestamp"] == 1


async def test_a_stale_timestamp_re_syncs(htx_sim: HtxSim) -> None:
    htx_sim.skew_s = 600.0
    client = htx_client(htx_sim, htx_sim.add_key())
    await check_once(client)
    assert htx_sim.refused["stale timestamp"] == 1 and 590_000 < client.http.offset_ms < 610_000


async def test_bare_json_numbers_are_read_exactly(htx_sim: HtxSim, htx: HtxClient) -> None:
    rows = [htx_sim.add_deposit(amount=a) for a in ("12.000001", "0.1", "7.4574670", "3.0000001")]
    rows.append(htx_sim.add_deposit(amount="5", state="confirming", currency="btc"))
    found = {r.record_id: r for r in await htx.incoming(*window(back=BACK))}
    got = [found[str(r["id"])] for r in rows]
    assert [r.amount_units for r in got] == [12_000_001, 100_000, 7_457_467, None, 5_000_000]
    assert got[1].amount_text == "0.1"
    assert not got[4].final and got[4].currency == "BTC" and got[0].final


async def test_paging_walks_back_until_the_window_starts(htx_sim: HtxSim, htx: HtxClient) -> None:
    now = datetime.now(UTC)
    old = [htx_sim.add_deposit(amount="1", created=now - timedelta(days=2)) for _ in range(600)]
    recent = [htx_sim.add_deposit(amount="2", created=now - timedelta(seconds=i)) for i in range(1100)]
    records = await htx.incoming(*window(now, back=BACK))
    assert {r.record_id for r in records} == {str(r["id"]) for r in recent}
    assert not {str(r["id"]) for r in old} & {r.record_id for r in records}
    assert htx_sim.counts[DEPOSITS] == 3  # 500 + 500 + (100 recent and older ones)


async def test_find_matches_the_blockchain_tx_id_in_any_case(htx_sim: HtxSim, htx: HtxClient) -> None:
    row = htx_sim.add_deposit(amount="8.000001", tx_hash="ab" * 32)
    htx_sim.add_deposit(amount="8.000002")
    found = await htx.find("0x" + "AB" * 32, "", *window(back=BACK))
    assert [r.record_id for r in found] == [str(row["id"])]


async def test_rate_limit_answer(htx_sim: HtxSim, htx: HtxClient) -> None:
    htx_sim.set_limit(DEPOSITS, 1, 60.0)
    await htx.incoming(*window(back=BACK))
    with pytest.raises(ExchangeRateLimited):
        await htx.incoming(*window(back=BACK))


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("5xx", ExchangeError),
        ("timeout", ExchangeError),
        ("garbage", ExchangeMalformed),
        ("malformed", ExchangeMalformed),
    ],
)
async def test_failures_surface_as_provider_errors(
    htx_sim: HtxSim, htx: HtxClient, kind: str, error: type[Exception]
) -> None:
    htx_sim.fail(kind, path=DEPOSITS)
    with pytest.raises(error):
        await htx.incoming(*window(back=BACK))
    assert await htx.incoming(*window(back=BACK)) == []


async def test_an_auth_fault_that_persists_is_an_auth_error(htx_sim: HtxSim, htx: HtxClient) -> None:
    htx_sim.fail("auth", path=DEPOSITS, times=2)
    with pytest.raises(ExchangeAuthError):
        await htx.incoming(*window(back=BACK))
