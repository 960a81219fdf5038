"""Operators' sections of `usdtpay status` (see api.cli.status_report.SECTIONS): the
exchange watchers (api.cli.status_exchanges), the notification backlog, the rate
and its age, orders of the last hour."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.cli.status_exchanges import exchanges_section
from engine import monitoring
from engine.config import Settings
from engine.monitoring import LAST_HOUR
from engine.rows import Rows


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


async def notifications_section(
    rows: Rows, settings: Settings, now: datetime, _: dict[str, Any]
) -> list[str]:
    b = await monitoring.notification_backlog(rows, now)
    oldest = "-" if b.oldest_due_at is None else f"{_age(b.oldest_due_seconds(now))} overdue"
    lines = [
        "Notifications",
        f"pending {b.pending}   due now {b.due}   oldest due {oldest}   failed {b.failed}",
    ]
    if b.oldest_due_seconds(now) > settings.ops.notify_oldest_due_degraded_seconds:
        lines.append("  ! the notifier is behind: is `usdtpay notify` (or `usdtpay run`) running?")
    if b.failed:
        lines.append(
            "  ! some notifications gave up: `usdtpay notify list --failed`, then `usdtpay notify retry ID`"
        )
    return lines


async def rate_section(rows: Rows, settings: Settings, now: datetime, _: dict[str, Any]) -> list[str]:
    state = await monitoring.rate_state(rows, settings)
    if state.rate is None:
        return ["Rate", "no CNY/USDT rate yet: the refresher has not succeeded (`usdtpay rate show`)"]
    age = state.age_seconds(now) or 0.0
    # The fixed rate may come from USDTPAY_RATE_FIXED or from rate.fixed (file or variable).
    source = "USDTPAY_RATE_FIXED" if settings.rate_fixed is not None else "rate.fixed"
    kind = f"fixed ({source})" if state.fixed else f"age {_age(age)}"
    lines = ["Rate", f"CNY per USDT {state.rate}   {kind}"]
    lines += [f"  {name}: {value}" for name, value in sorted(state.sources.items())]
    limit = monitoring.rate_age_limit(settings)
    if not state.fixed and age > limit:
        lines.append(f"  ! older than {limit} s: check the rate sources (`usdtpay rate show`)")
    if not state.fixed and age > settings.rate.max_age_seconds:
        lines.append("  ! too old to price CNY orders: they are refused until it refreshes")
    return lines


async def orders_section(rows: Rows, settings: Settings, now: datetime, _: dict[str, Any]) -> list[str]:
    counts = await monitoring.orders_by_status(rows, now - LAST_HOUR)
    total = sum(counts.values())
    detail = "   ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "none"
    return ["Orders created in the last hour", f"{total} total   {detail}"]


OPERATOR_SECTIONS = [exchanges_section, notifications_section, rate_section, orders_section]
