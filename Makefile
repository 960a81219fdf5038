# usdtpay: `make run` starts the service on SQLite; `make test` runs the suite.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PYTHON_DOWNLOADS := never
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint fmt bench bench-tools devchain demo clean

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python python3.11
	@touch $@

# The project's own modules get their bytecode here (the installed packages get
# theirs from uv sync, [tool.uv] compile-bytecode): where bytecode is not written
# at import (PYTHONDONTWRITEBYTECODE, a read-only /opt install) every command
# would otherwise compile them again on each start (issue 15: `usdtpay status`).
setup: .venv/.synced
	$(PY) -m compileall -q engine api watchers bridges

devchain: scripts/devchain/node_modules/.installed

scripts/devchain/node_modules/.installed: scripts/devchain/package.json scripts/devchain/package-lock.json
	# The lock names every platform's optional anvil binary (as `npm install`
	# writes it), so npm ci installs this platform's one and a fresh clone
	# stays clean.
	cd scripts/devchain && npm ci --no-audit --no-fund
	@touch $@

# A whole payment on a local dev chain (anvil): order, cashier URL, payment,
# notification. Touches no real chain and keeps nothing (usdtpay demo --help).
demo: setup devchain
	.venv/bin/usdtpay demo $(DEMO_ARGS)

run: setup
	mkdir -p var
	.venv/bin/usdtpay run --host $(HOST) --port $(PORT)

test: setup devchain
	.venv/bin/pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

# Lint: style, types, the import contract (pyproject [tool.importlinter]),
# the size rules and that the models match the migrations.
lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	$(PY) scripts/check_layout.py
	$(PY) -m scripts.check_migrations

fmt: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# BENCH_ARGS: benchmark names to run only those, --full for 100k creates.
bench: setup devchain bench-tools
	$(PY) -m scripts.bench.all $(BENCH_ARGS)

# wrk (Debian package) drives the HTTP benchmarks: a Python client would be the bottleneck.
bench-tools:
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; }

clean:
	rm -rf .venv var .pytest_cache
