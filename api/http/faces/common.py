"""What the cashier, checkout, dryad and quickpay faces share: who may
create orders, how a stored order reads to a payer, and order lookups.

Each face still renders its own envelope and status codes; this module only
answers questions in engine terms and raises engine errors.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Request
from litestar.exceptions import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from api.http.browser_guard import refuse_browser_create
from api.http.client_address import client_source, in_networks, parse_ip, source_key
from api.http.state import AppState
from api.http.wire import client_ip
from engine import amounts, money
from engine.db import lock_for_transaction, unit_of_work
from engine.errors import BadInput, BusinessRule, Forbidden, NotFound, TooManyRequests
from engine.merchant_keys import api_key_matches
from engine.merchants import get_merchant
from engine.models import Merchant, Order
from engine.notify.urls import check_notify_url
from engine.orders import queries
from engine.orders.schemas import OrderStatus
from engine.orders.service import assign_chain

API_KEY_HEADER = "x-api-key"
CHAIN_LABEL = {"tron": "TRC20", "eth": "ERC20"}
USDT_TYPE = {"tron": "usdt_trc20", "eth": "usdt_erc20"}
CHAIN_OF_USDT_TYPE = {v: k for k, v in USDT_TYPE.items()}


def unexpected(exc: Exception, log: logging.Logger) -> tuple[int, str]:
    """Status and message for an exception that is not a domain error:
    Litestar's own client errors (wrong method, bad path) keep their 4xx;
    anything else is logged and answered as 500 without details."""
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return exc.status_code, str(exc.detail)
    log.error("unexpected error in a face", exc_info=exc)
    return 500, "internal error; retry, or contact support with the time of the request"


def is_trusted(ip: str, networks: list[str]) -> bool:
    """Whether `ip` is inside one of `networks` (CIDR text); unparsable is
    untrusted, and so is an address from wire.client_ip that cannot be
    known (forwarding headers from a peer that is not a configured proxy)."""
    if not getattr(ip, "known", True):
        return False
    return in_networks(parse_ip(ip), networks)


def _presented_key(request: Request[Any, Any, Any]) -> str:
    """`X-Api-Key: <pid>:<key>`, or `Authorization: Bearer <pid>:<key>`."""
    value = request.headers.get(API_KEY_HEADER, "")
    if not value:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        value = token.strip() if scheme.lower() == "bearer" else ""
    return value.strip()


async def key_merchant(state: AppState, request: Request[Any, Any, Any]) -> Merchant | None:
    """The merchant whose API key the request presents; None when it presents
    none; Forbidden when the key is wrong."""
    presented = _presented_key(request)
    if not presented:
        return None
    pid, _, key = presented.partition(":")
    async with state.sessions() as session:
        merchant = await get_merchant(session, pid) if pid else None
    # Against the API key's hash, never the signing key (engine.merchant_keys);
    # compared even for an unknown pid so timing says nothing about pids.
    if not api_key_matches(merchant.api_key_hash if merchant else None, key) or merchant is None:
        raise Forbidden(
            f"bad API key: send {API_KEY_HEADER.title()}: <pid>:<API key> "
            "(the API key `usdtpay merchant api-key` issued, not the signing key)"
        )
    return merchant


async def owner_reading(state: AppState, request: Request[Any, Any, Any], order: Order) -> bool:
    """Whether the caller reads `order` as its merchant: with that merchant's
    API key, or (like an unsigned create) from a trusted network for the
    default merchant's order. Payment ids and channel trade numbers, what a
    forged channel callback would need, are shown to the owner only."""
    keyed = await key_merchant(state, request)
    if keyed is not None:
        return keyed.id == order.merchant_id
    if not is_trusted(client_ip(request), state.settings.api.trusted_networks):
        return False
    async with state.sessions() as session:
        default = await get_merchant(session, state.settings.api.default_pid)
    return default is not None and default.id == order.merchant_id


def open_create(request: Request[Any, Any, Any]) -> bool:
    """After creating_merchant: True when the caller was let in by its
    network alone (no key). Such orders number apart from the merchant's
    own (engine.orders.schemas.NewOrder.open_create), so nobody on a trusted
    network can squat an order number the merchant will use."""
    return not _presented_key(request)


async def creating_merchant(state: AppState, request: Request[Any, Any, Any]) -> Merchant:
    """The merchant an unsigned create request acts for.

    The seeds give these creates no authentication, so a caller must either
    present a merchant key (which also names the merchant) or come from one
    of `api.trusted_networks` (the merchant's own back end), in which case
    the order belongs to `api.default_pid`.
    """
    ip = client_ip(request)
    if not state.limiter.allow(f"ip:{client_source(request)}"):
        raise TooManyRequests("too many requests; slow down and retry with exponential backoff")
    if not _presented_key(request):
        refuse_browser_create(request)
    keyed = await key_merchant(state, request)
    if keyed is not None:
        return keyed
    async with state.sessions() as session:
        if not is_trusted(ip, state.settings.api.trusted_networks):
            raise Forbidden(
                f"creating orders needs a merchant API key ({API_KEY_HEADER.title()}: <pid>:<key>) "
                "or a client address in USDTPAY_API__TRUSTED_NETWORKS"
            )
        merchant = await get_merchant(session, state.settings.api.default_pid)
    if merchant is None:
        raise Forbidden(
            f"the default merchant {state.settings.api.default_pid!r} does not exist; "
            "add it with `usdtpay merchant add` or set USDTPAY_API__DEFAULT_PID"
        )
    return merchant


async def check_callback_url(state: AppState, url: str, field: str) -> str:
    """A merchant-supplied URL we will call or send the payer to: http(s)
    with a host; notification targets also pass engine.notify.urls' SSRF
    rules (a BadInput naming the problem)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{field} must be an http(s) URL with a host, got {url[:80]!r}")
    return url


async def check_notify_target(state: AppState, url: str, field: str) -> str:
    await check_callback_url(state, url, field)
    await check_notify_url(url, state.settings)
    return url


def parse_order_id(value: object, field: str) -> int:
    """A platform order id from the wire (text or a JSON number)."""
    text = value if isinstance(value, str) else ""
    text = text.strip()
    if not text:
        raise BadInput(f"{field} is required")
    if not text.isdigit() or not text.isascii() or len(text) > 17:
        raise BadInput(f"{field} must be a platform order number (digits), got {text[:40]!r}")
    return int(text)


async def load_order(state: AppState, order_id: int) -> Order:
    """The order, for reading only: through the runner's read (engine.work),
    so payer pages and polls never take SQLite's write lock."""
    order = await state.work.read(partial(queries.find_by_id, order_id=order_id))
    if order is None:
        raise NotFound(f"no order {order_id}; check the order number")
    return order


async def load_merchant_order(state: AppState, pid: str, order_no: str) -> Order:
    async with state.sessions() as session:
        merchant = await get_merchant(session, pid)
        order = await queries.get_by_merchant_no(session, merchant.id, order_no) if merchant else None
        if merchant is not None and order is None:  # created from its trusted network, without a key
            order = await queries.get_by_merchant_no(session, merchant.id, order_no, open_create=True)
    if order is None:
        raise NotFound(f"merchant {pid[:32]!r} has no order {order_no[:64]!r}")
    return order


def shown_status(order: Order, now: datetime) -> str:
    """The status a payer sees: a pending order past its expiry reads as
    expired at once, although settlement still honours the late window."""
    if order.status == OrderStatus.PENDING and now >= order.expires_at:
        return OrderStatus.EXPIRED.value
    return order.status


def amount_cents(order: Order) -> int:
    """Fen for CNY orders; for USDT-priced orders, hundredths of a USDT
    (rounded up), since the template shows integer hundredths."""
    if order.currency == "CNY":
        return order.fiat_fen or 0
    return -(-(order.usdt_price_units or 0) // 10**4)


def usdt_amount(order: Order) -> str:
    return money.format_usdt(order.usdt_units or 0)


def tz(state: AppState) -> ZoneInfo:
    try:
        return ZoneInfo(state.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_text(state: AppState, when: datetime | None) -> str | None:
    """ "YYYY-MM-DD HH:MM:SS" in the deployment's time zone (settings.timezone)."""
    if when is None:
        return None
    return when.astimezone(tz(state)).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def open_pick_holder(state: AppState, session: AsyncSession, chain: str, source: str) -> str:
    """The holder to record for a cashier pick on an open order (created by
    network alone), or why not: one source may hold
    orders.open_picks_per_source live amounts, and all such picks together
    orders.open_picks_share_percent of the slots, so merchants' own orders
    always find an amount (issue 12, finding 3)."""
    terms, now = state.settings.orders, state.now()
    holder = source_key(source, state.settings.api.ipv6_source_prefix)
    # Counted and taken under the source's lock, so concurrent picks in
    # several processes cannot all pass the count.
    await lock_for_transaction(session, f"open-picks:{holder}")
    if await amounts.live_picks(session, now, picked_by=holder) >= terms.open_picks_per_source:
        raise TooManyRequests(
            "too many USDT amounts are held for your address; pay or let one expire, then retry"
        )
    share = terms.offset_slots * terms.open_picks_share_percent // 100
    if await amounts.live_picks(session, now, chain=chain) >= share:
        raise amounts.AmountsExhausted(
            f"no unique amount is free on {chain} for this order right now; retry later or pay another way"
        )
    return holder


async def pick_chain(state: AppState, order_id: int, chain: str, *, source: str = "") -> Order:
    """Reserve the unique USDT amount on `chain` for an order whose payer
    picked USDT at the cashier; asking again answers the same reservation.
    `source` is the asking client's address (see open_pick_holder)."""
    now = state.now()
    async with unit_of_work(state.sessions) as session:
        order = await queries.get_order(session, order_id, for_update=True)
        if order is None:
            raise NotFound(f"no order {order_id}; check the order number")
        if order.chain is not None:
            if order.chain != chain:
                raise BadInput(
                    f"this order is to be paid in USDT-{CHAIN_LABEL[order.chain]}; "
                    f"choose {USDT_TYPE[order.chain]}"
                )
            return order
        if order.channel is not None:
            # The creator chose a fiat channel: no unique amount is shown.
            raise BusinessRule(
                f"order {order_id} is to be paid through {order.channel}; USDT is not offered",
                code="payment_means",
            )
        status = shown_status(order, now)
        if status != OrderStatus.PENDING:
            raise BadInput(f"order {order_id} is {status}; it cannot be paid")
        if order.open_create:
            order.picked_by = await open_pick_holder(state, session, chain, source)
        await assign_chain(session, order, chain, settings=state.settings, clock=state.clock)
    return order
