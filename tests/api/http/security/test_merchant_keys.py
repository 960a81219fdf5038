"""Finding 10 (merchant keys at rest): a copy of the database does not hand
out a merchant's secrets, the X-Api-Key bearer secret is not the signing
key, and `usdtpay merchant add` takes the key from stdin or a file, never
from the command line (where `ps` and shell history show it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from api.http.app import create_app
from engine import merchant_keys
from tests.api.http.security.support import live_app, settings_for
from tests.dbharness import Db
from tests.factories import signed
from tests.paths import ROOT

PID = "30003"
SIGNING_KEY = "s1gning-key-only-the-merchant-knows-42"
SEAL = "operator-seal-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def unsealed_afterwards() -> Iterator[None]:
    yield
    merchant_keys.configure("")  # create_app set it process-wide


def usdtpay(db: Db, *args: str, stdin: str = "", seal: str = SEAL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "USDTPAY_DATABASE_URL": db.url, "USDTPAY_MERCHANT_KEYS_SECRET": seal}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def database_bytes(db: Db) -> bytes:
    path = Path(db.url.split(":///", 1)[1])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_database_copy_holds_no_usable_merchant_secret(db: Db) -> None:
    added = usdtpay(
        db, "merchant", "add", "--pid", PID, "--name", "Shop", "--key-file", "-", stdin=SIGNING_KEY
    )
    assert added.returncode == 0, added.stderr
    api_key = added.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert SIGNING_KEY not in added.stdout and len(api_key) >= 32
    copy = database_bytes(db)
    assert SIGNING_KEY.encode() not in copy and api_key.encode() not in copy
    create = {"pid": PID, "chain_type": 1, "order_no": "K-1", "amount": "1.00"}
    async with live_app(db, merchant_keys_secret=SecretStr(SEAL)) as app, app.client() as client:
        made = await client.post("/api/pay/create", json=signed(create, SIGNING_KEY))
        with_api_key = await client.post(
            "/api/precreate", json={"name": "a", "price": "1"}, headers={"X-Api-Key": f"{PID}:{api_key}"}
        )
        signing_key_as_bearer = await client.post(
            "/api/precreate", json={"name": "b", "price": "1"}, headers={"X-Api-Key": f"{PID}:{SIGNING_KEY}"}
        )
    assert made.status_code == 200, made.text  # the sealed key still signs
    assert with_api_key.status_code == 200, with_api_key.text
    assert signing_key_as_bearer.status_code == 403, signing_key_as_bearer.text
    # Whoever holds only the database (no seal secret) cannot use the key.
    app = create_app(settings_for(db))
    async with AsyncTestClient(app=app) as client:
        stolen = await client.post("/api/pay/create", json=signed({**create, "order_no": "K-2"}, SIGNING_KEY))
    assert stolen.status_code != 200 and "USDTPAY_MERCHANT_KEYS_SECRET" in stolen.json()["msg"], stolen.text


def test_merchant_add_never_takes_the_key_from_argv(db: Db, tmp_path: Path) -> None:
    on_argv = usdtpay(db, "merchant", "add", "--pid", PID, "--key", SIGNING_KEY)
    assert on_argv.returncode == 2 and "unrecognized arguments" in on_argv.stderr
    key_file = tmp_path / "key"
    key_file.write_text(SIGNING_KEY + "\n")
    from_file = usdtpay(db, "merchant", "add", "--pid", PID, "--key-file", str(key_file))
    assert from_file.returncode == 0, from_file.stderr
    generated = usdtpay(db, "merchant", "add", "--pid", "30004")
    assert generated.returncode == 0 and "signing key (for signatures; keep it secret): " in generated.stdout
    rotated = usdtpay(db, "merchant", "api-key", "--pid", PID)
    assert rotated.returncode == 0 and "new API key" in rotated.stdout
    listed = usdtpay(db, "merchant", "list")
    assert SIGNING_KEY not in listed.stdout and PID in listed.stdout
