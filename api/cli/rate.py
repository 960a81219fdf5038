"""`usdtpay rate show`: the CNY per USDT rate orders are priced with."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now, run_db
from engine.errors import UsdtPayError

if TYPE_CHECKING:
    from engine.config import Settings


def cmd_rate_show(settings: Settings, _: argparse.Namespace) -> int:
    from engine.rates.queries import latest
    from engine.rates.service import current_quote

    async def fn(session: Any) -> int:
        try:
            quote = await current_quote(session, settings, now())
        except UsdtPayError as exc:
            snapshot = await latest(session)
            print(f"rate unavailable: {exc.message}")
            if snapshot is not None:
                print(f"last: {snapshot.rate} at {snapshot.fetched_at:%Y-%m-%d %H:%M:%S}Z {snapshot.sources}")
            return 1
        age = int((now() - quote.fetched_at).total_seconds())
        print(f"CNY per USDT: {quote.rate}  (age {age} s{', fixed' if quote.fixed else ''})")
        for name, value in quote.sources.items():
            print(f"  {name}: {value}")
        return 0

    return run_db(settings, fn)


def register(sub: Any) -> None:
    rate = sub.add_parser("rate", help="the CNY/USDT rate").add_subparsers(dest="sub", required=True)
    rate.add_parser("show", help="the current rate, its age and sources")


COMMANDS: dict[str, Command] = {"rate show": cmd_rate_show}
