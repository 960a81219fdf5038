""" "I have paid" for an exchange order (seed 004 type 2): the payer enters
the identifier the exchange shows for the transfer (OKX order number,
Binance transaction id, HTX TxID) and it is checked exactly as the
merchant's supplement checks it (usdt_exchange.supplement: the exchange
asked with the account's read-only key, the record verified and settled
through the watcher's path), or refused with the reason in both languages.

Each check spends the receiving account's API budget, which the watcher
shares (README "Exchange transfers", Watcher), so on top of the limits of
every claim the checks per receiving account are limited as well: an
unsigned page must not let strangers starve the watcher.
"""

from __future__ import annotations

import re

from api.http.faces import usdt_exchange
from api.http.faces.exchange_cashier import NAMES, REFS
from api.http.faces.payer_text import Refused, Said, say
from api.http.state import AppState
from engine import money
from engine.errors import TooManyRequests, UpstreamError
from engine.models import Order
from engine.supplement import SupplementRejected

# Checks per receiving account and minute, from every payer together: a
# Binance check scans Pay history (weight 3,000, ~1 call), so 10 a minute
# leave most of the 30 Pay calls/min usdtpay allows itself to the watcher.
ACCOUNT_CHECKS_PER_MINUTE = 10
# What the three exchanges' identifiers are made of: letters, digits, and the
# space of Binance's "Internal transfer 123…"; nothing else reaches an exchange.
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 :_-]{0,99}")
# Reason codes with a sentence of their own for an exchange order.
EXPLAINED = frozenset(
    (
        "record_not_found",
        "wrong_currency",
        "record_not_final",
        "amount_differs",
        "tx_too_early",
        "tx_too_late",
        "hash_used",
        "account_unknown",
    )
)


def names(order: Order) -> dict[str, str]:
    exchange = order.chain or ""
    zh, en = NAMES[exchange]
    ref_zh, ref_en, _, _ = REFS[exchange]
    needed = money.format_usdt(order.usdt_units) if order.usdt_units is not None else "?"
    return {"name": zh, "name_en": en, "ref": ref_zh, "ref_en": ref_en, "needed": needed}


def explain(exc: SupplementRejected, order: Order) -> Said:
    """The payer's sentence for a failed check, under the check's own code."""
    if exc.code not in EXPLAINED:
        return say(exc.code, exc.message)
    said = say(f"exchange_{exc.code}", **names(order))
    return Said(exc.code, said.zh, said.en)


def reference(order: Order, raw: str) -> str:
    text = " ".join(raw.split())
    if not REFERENCE.fullmatch(text):
        said = say("exchange_bad_reference", **names(order))
        raise Refused(Said("bad_reference", said.zh, said.en), 422)
    return text


async def verify(state: AppState, order: Order, raw: str) -> Order:
    """Check the payer's identifier at the exchange and settle the order."""
    ref = reference(order, raw)
    key = f"account:{order.chain}:{order.address}"
    if not state.claim_limiter.allow(key, limit=ACCOUNT_CHECKS_PER_MINUTE):
        raise TooManyRequests("too many payment checks at this exchange account; retry in a minute")
    try:
        return await usdt_exchange.supplement(state, order, ref, "")
    except SupplementRejected as exc:
        raise Refused(explain(exc, order), exc.status) from exc
    except UpstreamError as exc:  # unreachable, rate-limited, refused key: the payer can only retry
        said = say("exchange_unreachable", **names(order))
        raise Refused(Said(exc.code, said.zh, said.en), exc.status) from exc
