"""The read paths' shortcuts answer exactly what they replaced: a status
query read from a few columns gives the same fields as one from the whole
order, and its answer, built without Litestar's Response layer, has the
envelope's bytes and headers; a settlement is seen by the next read."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

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


async def test_the_query_answer_is_the_envelope_byte_for_byte(client: AsyncTestClient, db: Db) -> None:
    order_id = int(
        (await client.post("/api/pay/create", json=signed(SEED_CREATE))).json()["data"]["plat_order_no"]
    )
    await settle(db, order_id)
    answer = await client.get("/api/pay/query", params=signed(QUERY))
    assert answer.status_code == 200 and answer.json()["data"]["status"] == "paid"  # seen at once
    enveloped = Response({"code": 200, "msg": "success", "data": answer.json()["data"]})
    assert answer.content == enveloped.render(enveloped.content, "application/json")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-length"] == str(len(answer.content))
    assert sorted(answer.headers) == ["content-length", "content-type"]
