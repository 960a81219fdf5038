"""The read paths' shortcuts answer exactly what they replaced: a status
query read from a few columns gives the same fields as one from the whole
order, and the answers built as plain ASGI apps (api.http.answer.JsonAnswer)
have the bytes and headers of Litestar's Response; a settlement is seen by
the next read."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import httpx
from litestar import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.engine import Connection

from api.http.faces.usdt import query_data
from engine.models import Order
from engine.orders import queries
from tests.api.http.faces.test_usdt import SEED_CREATE
from tests.dbharness import Db
from tests.factories import T0, signed

QUERY = {"pid": "10001", "order_no": SEED_CREATE["order_no"]}


async def create(client: AsyncTestClient) -> int:
    answer = await client.post("/api/pay/create", json=signed(SEED_CREATE))
    return int(answer.json()["data"]["plat_order_no"])


def state_and_order(conn: Connection, order_id: int) -> tuple[queries.OrderState | None, Order | None]:
    order = queries.find_by_id(conn, order_id)
    assert order is not None
    return queries.find_state(conn, order.merchant_id, order.merchant_order_no), order


async def settle(db: Db, order_id: int) -> None:
    """Mark the order paid through the async engine (another connection than the reads')."""
    async with db.sessions() as session:
        values = {"status": "paid", "paid_at": T0 + timedelta(minutes=3, microseconds=7)}
        await session.execute(update(Order).where(Order.id == order_id).values(**values))
        await session.commit()


async def test_the_state_read_answers_as_the_whole_order(client: AsyncTestClient, db: Db) -> None:
    order_id = int(
        (await client.post("/api/pay/create", json=signed(SEED_CREATE))).json()["data"]["plat_order_no"]
    )
    for _ in ("pending", "paid"):
        state, order = await db.work.read(partial(state_and_order, order_id=order_id))
        assert state is not None and order is not None and query_data(state) == query_data(order)
        await settle(db, order_id)
    assert state is not None and query_data(state)["paytime"] == int((T0 + timedelta(minutes=3)).timestamp())


def assert_as_litestar_renders(answer: httpx.Response) -> None:
    rendered = Response(answer.json())
    assert answer.content == rendered.render(rendered.content, "application/json")
    assert list(answer.headers.items()) == [
        ("content-type", "application/json"),
        ("content-length", str(len(answer.content))),
    ]


async def test_the_answers_are_litestars_byte_for_byte(client: AsyncTestClient, db: Db) -> None:
    order_id = await create(client)
    await settle(db, order_id)
    answer = await client.get("/api/pay/query", params=signed(QUERY))
    assert answer.status_code == 200 and answer.json()["data"]["status"] == "paid"  # seen at once
    assert_as_litestar_renders(answer)
    for path, name in (("/api/cashier_info", "orderId"), ("/api/check_order", "out_trade_no")):
        answer = await client.get(path, params={name: str(order_id)})
        assert answer.status_code == 200 and answer.json()["success"] is True
        assert_as_litestar_renders(answer)
    assert answer.json()["status"] == 1  # check_order: paid, at once


async def test_the_querys_errors_are_the_envelopes_litestar_renders(client: AsyncTestClient, db: Db) -> None:
    await create(client)
    unknown = signed({**QUERY, "order_no": "no-such-order"})
    forged = {**signed(QUERY), "signature": "0" * 32}
    cases = [
        (unknown, 404, f"merchant 10001 has no order {'no-such-order'!r}"),
        (forged, 403, None),
        ({**signed(QUERY), "extra": "1"}, 422, None),
    ]
    for params, status, msg in cases:
        answer = await client.get("/api/pay/query", params=params)
        assert answer.status_code == status and answer.json()["code"] == status
        assert msg is None or answer.json()["msg"] == msg
        rendered = Response(answer.json(), status_code=status)
        assert answer.content == rendered.render(rendered.content, "application/json")
        assert list(answer.headers.items()) == [
            ("content-type", "application/json"),
            ("content-length", str(len(answer.content))),
        ]
