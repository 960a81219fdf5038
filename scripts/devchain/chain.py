"""A local EVM dev chain for tests and `usdtpay demo`: anvil from the npm
package `@foundry-rs/anvil` (this folder, `make devchain`), the test token
TestUSDT.sol compiled with npm `solc`, and web3 to deploy, fund, transfer and
mine. Never a real chain: anvil listens on 127.0.0.1 and mines on demand.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from web3 import AsyncHTTPProvider, AsyncWeb3

from scripts.ports import free_port, owns_listener

DEVCHAIN = Path(__file__).resolve().parent


class DevchainMissing(RuntimeError):
    """anvil, node or solc is not installed: `make devchain` installs them."""


def anvil_binary() -> str:
    """The anvil executable: $USDTPAY_ANVIL, the npm package's binary, or PATH."""
    explicit = os.environ.get("USDTPAY_ANVIL")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted((DEVCHAIN / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    candidates.append(DEVCHAIN / "node_modules" / ".bin" / "anvil")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    on_path = shutil.which("anvil")
    if on_path:
        return on_path
    raise DevchainMissing("anvil is not installed; run `make devchain` (npm install in scripts/devchain)")


def compile_token(out_dir: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (DEVCHAIN / "node_modules" / "solc").is_dir():
        raise DevchainMissing("node or the npm package solc is missing; run `make devchain`")
    subprocess.run(
        [node, str(DEVCHAIN / "compile.js"), str(out_dir)], check=True, capture_output=True, timeout=120
    )
    artifact: dict[str, Any] = json.loads((out_dir / "TestUSDT.json").read_text())
    return artifact


class AnvilProcess:
    def __init__(self, binary: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(self.port), "--no-mining", "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"anvil exited with {self.process.returncode}: {err[:500]}")
            try:
                # Another anvil on the port would answer too (scripts.ports).
                if httpx.post(self.url, json=body, timeout=1.0).status_code == 200 and owns_listener(
                    self.process.pid, self.port
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"anvil did not answer on {self.url} within {timeout_s} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Devchain:
    """Deploy, fund, pay and mine on a running anvil (mining on demand only)."""

    url: str
    w3: AsyncWeb3[Any]
    artifact: dict[str, Any]
    owner: str = ""
    payer: str = ""
    token: Any = None

    @classmethod
    async def start(cls, url: str, artifact: dict[str, Any]) -> Devchain:
        w3 = AsyncWeb3(AsyncHTTPProvider(url))
        accounts = await w3.eth.accounts
        chain = cls(url=url, w3=w3, artifact=artifact, owner=accounts[0], payer=accounts[1])
        chain.token = await chain.deploy_token()
        await chain.wait(
            chain.token.functions.mint(chain.payer, 1_000_000 * 10**6).transact({"from": chain.owner})
        )
        return chain

    async def deploy_token(self) -> Any:
        factory = self.w3.eth.contract(abi=self.artifact["abi"], bytecode=self.artifact["bytecode"])
        receipt = await self.wait(factory.constructor().transact({"from": self.owner}))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=self.artifact["abi"])

    async def wait(self, pending: Any) -> Any:
        """Mine the pending transaction into one block; returns its receipt."""
        tx_hash = await pending
        await self.mine(1)
        return await self.w3.eth.get_transaction_receipt(tx_hash)

    async def pay(self, to: str, units: int, *, token: Any = None, sender: str | None = None) -> str:
        """Send `units` of the token in a real transaction, mined in one block; returns 0x hash."""
        receipt = await self.wait(
            (token or self.token).functions.transfer(to, units).transact({"from": sender or self.payer})
        )
        assert receipt["status"] == 1
        return "0x" + bytes(receipt["transactionHash"]).hex()

    async def pay_reverting(self, to: str, units: int) -> str:
        # A fixed gas limit skips estimation, which would refuse a reverting call.
        pending = self.token.functions.transferThenRevert(to, units).transact(
            {"from": self.payer, "gas": 200_000}
        )
        receipt = await self.wait(pending)
        assert receipt["status"] == 0
        return "0x" + bytes(receipt["transactionHash"]).hex()

    async def mine(self, blocks: int) -> None:
        """Mine `blocks` empty blocks and return once the node reports them."""
        target = await self.head() + blocks
        await self._keep_up_with_the_clock()
        await self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]
        # A supplement right after mining once found its tx not yet final on
        # a loaded CI box (cause not pinned down); reading the head back
        # until it shows the new blocks rules out a node that lags its answer.
        deadline = asyncio.get_running_loop().time() + 10
        while await self.head() < target:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"anvil did not reach block {target} within 10 s")
            await asyncio.sleep(0.01)

    async def _keep_up_with_the_clock(self) -> None:
        # anvil's block clock drifts and can fall behind wall time (foundry
        # issue 8217): a payment mined right after an order was created once
        # carried a time a whole second before the order. A real chain's
        # timestamps follow wall time, so the next block gets at least now.
        latest = await self.w3.eth.get_block("latest")
        now = int(time.time())
        if int(latest["timestamp"]) < now:
            await self.w3.provider.make_request("evm_setNextBlockTimestamp", [hex(now)])  # type: ignore[arg-type]

    async def head(self) -> int:
        return int(await self.w3.eth.block_number)

    async def snapshot(self) -> str:
        answer = await self.w3.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
        return str(answer["result"])

    async def revert(self, snapshot_id: str) -> None:
        answer = await self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        assert answer["result"] is True

    async def close(self) -> None:
        await self.w3.provider.disconnect()


async def started(binary: str) -> AnvilProcess:
    anvil = AnvilProcess(binary)
    await asyncio.to_thread(anvil.wait_ready)
    return anvil
