"""Broadcast → "confirming" on the cashier page, measured by the e2e tests
for the README (written down, never asserted)."""

from __future__ import annotations

from tests.e2e.browser import ARTIFACTS


def record_latency(label: str, seconds: float) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "seen_latency.txt").open("a", encoding="utf-8") as out:
        out.write(f"{label}: {seconds:.1f} s\n")
