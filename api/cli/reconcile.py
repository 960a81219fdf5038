"""`usdtpay reconcile`: the books against the chains and the fiat channels.

Reads the chains through the readers directly (never the watchers' cursors
or tables), writes one CSV and one JSON file with a row per finding, and
exits 0 (all matched), 1 (findings need attention) or 2 (could not finish).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import Command
from api.cli.timewindow import add_window_arguments, window
from engine.audit.blocks import ReconcileIncomplete
from engine.audit.findings import summarize
from engine.errors import UsdtPayError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from engine.audit.channels import ChannelView
    from engine.audit.findings import Finding
    from engine.audit.run import Report
    from engine.config import Settings
    from engine.db import SessionFactory
    from engine.models import ChannelPayment

CHAINS = ("tron", "eth")
CHANNELS = ("wechat", "alipay", "quickpay")
EXCHANGES = ("okx", "binance", "htx")
SHOWN_FINDINGS = 40  # on the terminal; the files hold all of them


class BlockProgress:
    """A rich bar per chain with the blocks still to read."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} blocks"),
            TextColumn("[bold]{task.fields[left]:,} left"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def begin(self, chain: str, total_blocks: int) -> None:
        self.tasks[chain] = self.bars.add_task(chain, total=total_blocks, left=total_blocks)

    def advance(self, chain: str, blocks: int) -> None:
        task = self.tasks[chain]
        self.bars.advance(task, blocks)
        done = self.bars.tasks[self.bars.task_ids.index(task)]
        self.bars.update(task, left=int((done.total or 0) - done.completed))


def register(sub: Any) -> None:
    p = sub.add_parser(
        "reconcile", help="compare the books with the chains and channels (default: last 24 h)"
    )
    add_window_arguments(p, required=False)
    p.add_argument("--chain", action="append", choices=CHAINS, help="only this chain (repeatable)")
    p.add_argument("--channel", action="append", choices=CHANNELS, help="only this fiat channel (repeatable)")
    p.add_argument("--exchange", action="append", choices=EXCHANGES, help="only this exchange (repeatable)")
    p.add_argument("--out", default=".", help="directory for the CSV and JSON files (default: .)")


def chosen(settings: Settings, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Chains and channels to check: the ones asked for; by default every
    one the settings enable. Asking only for chains skips the channels and
    the other way round."""
    if args.chain or args.channel:
        return sorted(set(args.chain or [])), sorted(set(args.channel or []))
    chains = [c for c in CHAINS if getattr(settings, c).enabled]
    channels = [c for c in CHANNELS if getattr(settings, c).enabled]
    return chains, channels


async def run(settings: Settings, args: argparse.Namespace, console: Console) -> Report:
    from engine.audit.run import OrderTiming, Report, reconcile_chain_window
    from engine.db import create_engine, create_session_factory
    from watchers.readers import build_reader

    since, until = window(args, settings.timezone, datetime.now(UTC), timedelta(hours=24))
    chains, channels, exchanges = sources(settings, args)
    if not chains and not channels and not exchanges:
        raise ReconcileIncomplete(
            "nothing to reconcile: no chain or channel is enabled (USDTPAY_TRON__ENABLED, "
            "USDTPAY_ETH__ENABLED, USDTPAY_WECHAT__ENABLED, ...) and none was asked for "
            "with --chain / --channel"
        )
    report = Report(start=since, end=until, channels=channels)
    timing = OrderTiming(
        expire=timedelta(minutes=settings.orders.expire_minutes),
        late=timedelta(minutes=settings.orders.late_window_minutes),
    )
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    progress = BlockProgress(console)
    try:
        with progress.bars:
            for chain in chains:
                reader = build_reader(settings, chain)
                try:
                    scan, findings = await reconcile_chain_window(
                        sessions,
                        reader,
                        since,
                        until,
                        timing=timing,
                        batch=getattr(settings, chain).batch_blocks,
                        progress=progress,
                        attempts=settings.ops.reconcile_attempts,
                        retry_delay=settings.ops.reconcile_retry_seconds,
                    )
                finally:
                    await reader.aclose()
                report.scans.append(scan)
                report.findings.extend(findings)
        if channels:
            report.findings.extend(await _fiat(settings, sessions, channels, since, until))
        for exchange in exchanges:
            scan, found = await _exchange(settings, sessions, exchange, since, until)
            report.scans.append(scan)
            report.findings.extend(found)
    finally:
        await engine.dispose()
    return report


def sources(settings: Settings, args: argparse.Namespace) -> tuple[list[str], list[str], list[str]]:
    """Chains, channels and exchanges to check; asking only for exchanges skips the others."""
    if getattr(args, "exchange", None) and not (args.chain or args.channel):
        return [], [], chosen_exchanges(settings, args)
    return (*chosen(settings, args), chosen_exchanges(settings, args))


def chosen_exchanges(settings: Settings, args: argparse.Namespace) -> list[str]:
    """Exchanges to check: the ones asked for, else every enabled one unless
    only chains or channels were asked for."""
    asked = getattr(args, "exchange", None)
    if asked:
        return sorted(set(asked))
    return [] if args.chain or args.channel else list(settings.exchanges.enabled)


async def _exchange(
    settings: Settings, sessions: SessionFactory, exchange: str, since: datetime, until: datetime
) -> tuple[Any, list[Finding]]:
    from engine.audit.exchanges import reconcile_exchange_window
    from watchers.exchanges.build import reader_for_account

    try:
        return await reconcile_exchange_window(
            sessions, exchange, lambda account: reader_for_account(account, settings), since, until
        )
    except UsdtPayError:
        raise
    except Exception as exc:
        raise ReconcileIncomplete(
            f"{exchange}: the exchange could not be read ({type(exc).__name__}: {exc})"
        ) from exc


async def _fiat(
    settings: Settings, sessions: SessionFactory, names: list[str], since: datetime, until: datetime
) -> list[Finding]:
    from bridges.registry import build_channels, close_channels
    from engine.audit.channels import ChannelView
    from engine.audit.run import reconcile_fiat_window

    channels = build_channels(settings)
    missing = [n for n in names if n not in channels]
    if missing:
        await close_channels(channels)
        raise ReconcileIncomplete(
            f"channel {', '.join(missing)} is not enabled or configured; set "
            f"USDTPAY_{missing[0].upper()}__ENABLED and its keys, or leave it out"
        )

    async def query(payment: ChannelPayment) -> ChannelView | None:
        event = await channels[payment.channel].query(payment.out_trade_no)
        if event is None:
            return None
        return ChannelView(event.status.value, event.amount_fen, event.channel_trade_no, event.paid_at)

    try:
        return await reconcile_fiat_window(sessions, names, query, since, until)
    finally:
        await close_channels(channels)


def _amount(units: int | None, unit: str) -> str:
    from engine.money import FEN_DECIMALS, USDT_DECIMALS, format_units

    if units is None:
        return "-"
    return format_units(units, USDT_DECIMALS if unit == "USDT" else FEN_DECIMALS)


def render_decisions(report: Report, console: Console) -> None:
    """Transfers an operator resolved in the console: always listed in full."""
    from rich.table import Table

    decided = [f for f in report.findings if f.operator_decision]
    if not decided:
        return
    table = Table(title=f"operator decisions ({len(decided)})")
    for column in ("kind", "order", "hash", "chain", "expected", "who, when, why"):
        table.add_column(column, overflow="fold")
    for f in decided:
        table.add_row(
            f.kind.value,
            str(f.order_id or "-"),
            (f.tx_hash or "-")[:18],
            _amount(f.chain_units, f.unit),
            _amount(f.expected_units, f.unit),
            f.message,
        )
    console.print(table)


def verdict(report: Report) -> str:
    text = "all matched" if report.exit_code == 0 else "findings need attention"
    decided = sum(1 for f in report.findings if f.operator_decision)
    return text + (f"; {decided} operator decision(s) listed above" if decided else "")


def _table(title: str) -> Any:
    from rich.table import Table

    return Table(title=title)


def render(report: Report, console: Console, files: tuple[Path, Path]) -> None:
    console.print(f"window {report.start:%Y-%m-%d %H:%M:%S}Z .. {report.end:%Y-%m-%d %H:%M:%S}Z")
    scans = _table("sources read")
    for column in ("source", "blocks", "final head", "addresses", "on chain", "in db", "note"):
        scans.add_column(column)
    for s in report.scans:
        blocks = f"{s.start_block}-{s.end_block}" if s.start_block is not None else "-"
        scans.add_row(
            s.chain, blocks, str(s.final_head), str(s.addresses), str(s.on_chain), str(s.recorded), s.note
        )
    for name in report.channels:
        scans.add_row(name, "-", "-", "-", "-", "-", "queried per payment")
    console.print(scans)
    summary = _table("findings")
    summary.add_column("source")
    summary.add_column("kind")
    summary.add_column("count", justify="right")
    for source, kinds in sorted(summarize(report.findings).items()):
        for kind, count in sorted(kinds.items()):
            style = (
                "green"
                if kind in ("matched", "fiat_matched")
                else "yellow"
                if kind.startswith("operator_")
                else "bold red"
            )
            summary.add_row(source, f"[{style}]{kind}", str(count))
    console.print(summary)
    render_decisions(report, console)
    attention = [f for f in report.findings if f.needs_attention]
    if attention:
        detail = _table(f"needs attention ({len(attention)})")
        for column in ("kind", "order", "hash / trade no", "expected", "chain", "db", "what"):
            detail.add_column(column, overflow="fold")
        for f in attention[:SHOWN_FINDINGS]:
            detail.add_row(
                f.kind.value,
                str(f.order_id or "-"),
                (f.tx_hash or "-")[:18],
                _amount(f.expected_units, f.unit),
                _amount(f.chain_units, f.unit),
                _amount(f.db_units, f.unit),
                f.message,
            )
        console.print(detail)
        if len(attention) > SHOWN_FINDINGS:
            console.print(f"... and {len(attention) - SHOWN_FINDINGS} more in the files")
    console.print(f"CSV:  {files[0]}\nJSON: {files[1]}")
    console.print(f"exit {report.exit_code}: {verdict(report)}")


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console

    from engine.audit.report import write_files

    console = Console(stderr=False, width=max(Console().width, 140))
    errors = Console(stderr=True)
    try:
        report = asyncio.run(run(settings, args, errors))
    except ReconcileIncomplete as exc:
        errors.print(f"[bold red]reconciliation incomplete:[/] {exc.message}")
        return 2
    except UsdtPayError as exc:
        errors.print(f"[bold red]reconciliation incomplete:[/] {exc.message}")
        return 2
    files = write_files(report, Path(args.out), datetime.now(UTC))
    render(report, console, files)
    return report.exit_code


COMMANDS: dict[str, Command] = {"reconcile": cmd_reconcile}

if __name__ == "__main__":  # pragma: no cover - `python -m api.cli.reconcile`
    from api.cli import main

    sys.exit(main(["reconcile", *sys.argv[1:]]))
