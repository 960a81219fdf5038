"""Reconciliation output: one flat row per finding (CSV and JSON), amounts
both as integer units and as decimal text."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.audit.findings import Finding, summarize
from engine.audit.run import Report
from engine.money import FEN_DECIMALS, USDT_DECIMALS, format_units

COLUMNS = [
    "kind",
    "attention",
    "source",
    "order_id",
    "merchant_order_no",
    "order_status",
    "tx_hash",
    "log_index",
    "block_number",
    "block_time_utc",
    "address",
    "unit",
    "expected_units",
    "expected_amount",
    "chain_units",
    "chain_amount",
    "db_units",
    "db_amount",
    "reason",
    "related_order_ids",
    "message",
]


def _amount(units: int | None, unit: str) -> str:
    if units is None:
        return ""
    return format_units(units, USDT_DECIMALS if unit == "USDT" else FEN_DECIMALS)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def finding_row(f: Finding) -> dict[str, Any]:
    """Plain values: ints stay ints (JSON numbers), amounts as decimal text."""
    return {
        "kind": f.kind.value,
        "attention": f.needs_attention,
        "source": f.source,
        "order_id": f.order_id,
        "merchant_order_no": f.merchant_order_no,
        "order_status": f.order_status,
        "tx_hash": f.tx_hash,
        "log_index": f.log_index,
        "block_number": f.block_number,
        "block_time_utc": _time(f.block_time),
        "address": f.address,
        "unit": f.unit,
        "expected_units": f.expected_units,
        "expected_amount": _amount(f.expected_units, f.unit),
        "chain_units": f.chain_units,
        "chain_amount": _amount(f.chain_units, f.unit),
        "db_units": f.db_units,
        "db_amount": _amount(f.db_units, f.unit),
        "reason": f.reason,
        "related_order_ids": list(f.related_order_ids),
        "message": f.message,
    }


def report_document(report: Report, generated_at: datetime) -> dict[str, Any]:
    return {
        "window": {"from": _time(report.start), "to": _time(report.end)},
        "generated_at": _time(generated_at),
        "exit_code": report.exit_code,
        "chains": [vars(scan) for scan in report.scans],
        "channels": report.channels,
        "summary": summarize(report.findings),
        "findings": [finding_row(f) for f in report.findings],
    }


def write_files(report: Report, out_dir: Path, generated_at: datetime) -> tuple[Path, Path]:
    """reconcile-<time>.csv and .json in `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"reconcile-{generated_at:%Y%m%dT%H%M%SZ}"
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for f in report.findings:
            row = finding_row(f)
            row["related_order_ids"] = " ".join(map(str, row["related_order_ids"]))
            row["attention"] = "yes" if row["attention"] else "no"
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    json_path.write_text(json.dumps(report_document(report, generated_at), indent=2) + "\n", encoding="utf-8")
    return csv_path, json_path
