"""Match rules for the settlement tests (orders and transfers come from
tests.factories)."""

from __future__ import annotations

from datetime import timedelta

from engine.config import ETH_USDT_CONTRACT
from engine.settlement import MatchRules

RULES = MatchRules(token_contract=ETH_USDT_CONTRACT, late_window=timedelta(minutes=30))
