"""Finding 6 (issue 12): a merchant's orders cannot be read by guessing its
order numbers. The checkout face's `out_order_id` + `pid` lookup needs that
merchant's key; platform order ids stay unguessable."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from engine.ids import new_platform_id
from tests.api.http.faces.support import Faces, start_faces
from tests.api.http.security.payments import API_KEY, MERCHANT_NOTIFY, snapshot
from tests.dbharness import Db
from tests.factories import api_key_for, make_merchant, signed

OTHER_PID, OTHER_KEY = "20002", "second-merchant-key-0123456789"
PATHS = ("/api/order/info", "/api/order/audio", "/api/order/status")


@pytest.fixture
async def faces(db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(db):
        yield handle


async def victim_order(f: Faces, db: Db) -> dict[str, str]:
    """Merchant 20002's USDT order with the guessable number ORDER-1."""
    await make_merchant(db, pid=OTHER_PID, key=OTHER_KEY)
    create = {"pid": OTHER_PID, "chain_type": 1, "order_no": "ORDER-1", "amount": "10.00",
              "currency": "CNY", "notify_url": MERCHANT_NOTIFY}  # fmt: skip
    resp = await f.client.post("/api/pay/create", json=signed(create, OTHER_KEY))
    assert resp.status_code == 200, resp.text
    data: dict[str, str] = resp.json()["data"]
    return data


async def test_lookup_by_merchant_order_number_needs_that_merchants_key(faces: Faces, db: Db) -> None:
    victim = await victim_order(faces, db)
    before = await snapshot(db)
    lookup = {"out_order_id": "ORDER-1", "pid": OTHER_PID}
    attempts = {
        "no key": {},
        "another merchant's key": API_KEY,
        "a wrong key": {"X-Api-Key": f"{OTHER_PID}:guess"},
    }
    for path in PATHS:
        for what, headers in attempts.items():
            for body in (lookup, {**lookup, "pid": int(OTHER_PID)}):
                resp = await faces.client.post(path, json=body, headers=headers)
                assert resp.status_code == 403, (path, what, resp.text)
                assert resp.json()["code"] == 403
                for secret in (victim["plat_order_no"], victim["u_addr"], victim["amount"]):
                    assert secret not in resp.text, (path, what)
            form = await faces.client.post(path, data=lookup, headers=headers)
            assert form.status_code == 403, (path, what, form.text)
    assert await snapshot(db) == before
    # The merchant itself, with its key, still looks its order up this way.
    own_key = {"X-Api-Key": f"{OTHER_PID}:{api_key_for(OTHER_KEY)}"}
    mine = await faces.client.post(PATHS[0], json=lookup, headers=own_key)
    assert mine.status_code == 200 and mine.json()["order_id"] == victim["plat_order_no"]
    # And the payer's page reads by the unguessable platform id, as the seed prefers.
    by_id = await faces.client.post(PATHS[0], json={"order_id": victim["plat_order_no"]})
    assert by_id.status_code == 200 and by_id.json()["out_order_id"] == "ORDER-1"


def test_platform_ids_are_random_and_wide() -> None:
    """16 digits from `secrets` over ~2^52.8 values: neighbours of a known
    id are not other orders."""
    ids = [new_platform_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(10**15 <= i < 2**53 for i in ids)
    gaps = sorted(abs(a - b) for a, b in itertools.pairwise(ids))
    assert gaps[len(gaps) // 2] > 10**14  # far apart, not a counter
