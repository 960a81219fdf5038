"""Time windows given on the command line (`--from`, `--to`).

ISO 8601 dates or date-times; a value without an offset is read in the
deployment's time zone (settings.timezone), because that is the day an
accountant means by "2026-03-01".
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.errors import BadInput


def parse_when(text: str, timezone: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(
            f"not a date or time: {text!r}; use ISO 8601, e.g. 2026-03-01 or 2026-03-01T08:00:00+08:00"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def window(
    args: argparse.Namespace, timezone: str, now: datetime, default: timedelta | None
) -> tuple[datetime, datetime]:
    """[from, to] from the arguments; `default` back from `to` when --from
    is missing (None makes --from required)."""
    until = parse_when(args.to, timezone) if args.to else now
    if args.since:
        since = parse_when(args.since, timezone)
    elif default is not None:
        since = until - default
    else:
        raise BadInput("--from is required")
    if since >= until:
        raise BadInput(
            f"--from ({since:%Y-%m-%d %H:%M:%S}Z) must be before --to ({until:%Y-%m-%d %H:%M:%S}Z)"
        )
    return since, until


def add_window_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    zone = "in settings.timezone when no offset is given"
    parser.add_argument("--from", dest="since", required=required, help=f"start, ISO 8601 ({zone})")
    parser.add_argument("--to", help=f"end, ISO 8601 ({zone}); default now")
