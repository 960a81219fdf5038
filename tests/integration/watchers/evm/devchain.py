"""The local EVM node for tests: scripts/devchain/chain.py (shared with
`usdtpay demo`), with missing tools skipping the tests with a reason, except
under CI=true where they fail: the CI machine installs them (`.ci/run` →
`make test` → `make devchain`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from scripts.devchain import chain
from scripts.devchain.chain import AnvilProcess, Devchain, DevchainMissing, started
from scripts.ports import free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
DEVCHAIN = chain.DEVCHAIN

__all__ = ["AnvilProcess", "Devchain", "anvil_binary", "compile_token", "free_port", "started"]


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(what + " (CI=true: the EVM tests must run)")
    pytest.skip(what)


def anvil_binary() -> str:
    try:
        return chain.anvil_binary()
    except DevchainMissing as exc:
        _missing(str(exc))
        raise AssertionError("unreachable") from exc


def compile_token(out_dir: Path) -> dict[str, Any]:
    try:
        return chain.compile_token(out_dir)
    except DevchainMissing as exc:
        _missing(str(exc))
        raise AssertionError("unreachable") from exc
