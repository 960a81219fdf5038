"""The "fiat-query" worker: recover payments whose callback never came.

Each round takes pending channel payments old enough that their callback
should have arrived, asks the channel, and settles the paid ones. Payments
still unpaid after their order's expiry (plus a grace period) are closed at
the channel, and a fiat-only order with nothing left open expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.clock import Clock
from engine.config import FiatSettings
from engine.db import SessionFactory, unit_of_work
from engine.errors import UsdtPayError
from engine.fiat import queries as fiat_queries
from engine.fiat import service as fiat
from engine.fiat.channel import Channel, ChannelEvent, PaymentStatus
from engine.fiat.queries import DuePayment

log = logging.getLogger("usdtpay.fiat_query")


@dataclass
class QueryReport:
    queried: int = 0
    settled: int = 0
    closed: int = 0
    expired_orders: int = 0
    errors: int = 0


class FiatQuery:
    def __init__(
        self, sessions: SessionFactory, channels: Mapping[str, Channel], settings: FiatSettings, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.settings = settings
        self.clock = clock
        self._next_query: dict[int, datetime] = {}  # payment id → not before

    async def step(self) -> QueryReport:
        now = self.clock.now()
        self._next_query = {k: v for k, v in self._next_query.items() if v > now}
        report = QueryReport()
        async with self.sessions() as session:
            due = await fiat_queries.due_for_query(
                session,
                now,
                min_age_seconds=self.settings.query_min_age_seconds,
                limit=self.settings.batch_size,
                skip=frozenset(self._next_query),
            )
        for payment in due:
            channel = self.channels.get(payment.channel)
            if channel is None:
                continue  # the channel was disabled; its payments wait for it
            self._next_query[payment.payment_id] = now + timedelta(
                seconds=self.settings.query_interval_seconds
            )
            await self._one(channel, payment, now, report)
        return report

    async def _one(self, channel: Channel, due: DuePayment, now: datetime, report: QueryReport) -> None:
        report.queried += 1
        try:
            event = await channel.query(due.out_trade_no)
        except UsdtPayError as exc:
            report.errors += 1
            log.warning("querying %s payment %s failed: %s", due.channel, due.payment_id, exc.message)
            return
        if event is not None and event.status == PaymentStatus.PAID:
            await self._settle(due, event, now, report)
        elif event is not None and event.status != PaymentStatus.PENDING:
            await self._finish(
                due, event.status.value, f"{due.channel} says {event.status.value}", now, report
            )
        elif now >= due.order_expires_at + timedelta(seconds=self.settings.close_grace_seconds):
            try:
                await channel.close(due.out_trade_no)
            except UsdtPayError as exc:
                # e.g. paid a moment ago: the next round's query settles it.
                report.errors += 1
                log.warning("closing %s payment %s failed: %s", due.channel, due.payment_id, exc.message)
                return
            await self._finish(due, "closed", "closed after the order expired", now, report)

    async def _settle(self, due: DuePayment, event: ChannelEvent, now: datetime, report: QueryReport) -> None:
        try:
            async with unit_of_work(self.sessions) as session:
                result = await fiat.settle_channel_event(session, event, due.channel, now)
        except fiat.FiatMismatch as exc:
            report.errors += 1
            log.error(
                "query answer for %s payment %s does not match: %s", due.channel, due.payment_id, exc.message
            )
            return
        report.settled += result.outcome == fiat.Outcome.SETTLED
        log.info("recovered %s payment %s by query: %s", due.channel, due.payment_id, result.outcome)

    async def _finish(
        self, due: DuePayment, status: str, note: str, now: datetime, report: QueryReport
    ) -> None:
        # A refunded-before-settled payment is over as well: count it closed.
        final = "failed" if status == "failed" else "closed"
        async with unit_of_work(self.sessions) as session:
            report.closed += await fiat.mark_payment(session, due.payment_id, final, note=note)
            report.expired_orders += await fiat.expire_fiat_order(session, due.order_id, now)


async def run_fiat_query(
    sessions: SessionFactory,
    channels: Mapping[str, Channel],
    settings: FiatSettings,
    clock: Clock,
    stop: asyncio.Event,
) -> None:
    """Query rounds until `stop`; the caller owns the channels' lifetime."""
    runner = FiatQuery(sessions, channels, settings, clock)
    log.info("fiat-query watching channels: %s", ", ".join(channels) or "none")
    while not stop.is_set():
        report = await runner.step()
        if report.queried:
            log.info("fiat-query round: %s", report)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.query_poll_seconds)
