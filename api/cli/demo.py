"""`usdtpay demo [--pay]`: a whole payment in a few minutes, on a local dev
chain only.

It starts anvil (scripts/devchain, `make devchain`) with a test USDT token,
runs usdtpay (API, ETH watcher, notifier) on a throw-away SQLite database
with the watcher pointed at that chain, adds a merchant and two receiving
addresses, creates an order over HTTP as a merchant would, prints the
cashier URL, pays the exact amount from a funded dev account (on Enter, or
at once with --pay), and shows the order turn paid and the notification the
merchant receives. It ignores the deployment's settings and never talks to
a real chain: every address it uses is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import Command, now

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from engine.config import Settings

PID = "demo"
CONFIRMATIONS = 2
WAIT_S = 90.0


@dataclass
class Receiver:
    """The merchant's notify_url: a loopback server that records what it gets."""

    notify_url: str = ""
    bodies: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        import http.server

        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"success")  # seed 004: the merchant answers "success"
                receiver.arrived.set()

            def log_message(self, *_: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def bound_socket() -> socket.socket:
    """A loopback socket on a free port, bound before the app's URL is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def demo_settings(database_url: str, rpc_url: str, token: str, base_url: str) -> Settings:
    """Every group given explicitly, so no USDTPAY_* variable of this shell
    can switch on a real chain, channel or exchange."""
    from engine.config import EthSettings, NotifySettings, OrderSettings, Settings

    groups = {
        name: info.annotation()
        for name, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and hasattr(info.annotation, "model_fields")
    }
    groups["eth"] = EthSettings(
        enabled=True,
        rpc_urls=[rpc_url],
        usdt_contract=token,
        confirmations=CONFIRMATIONS,
        poll_seconds=0.5,
        start_block=0,
    )
    groups["notify"] = NotifySettings(allow_hosts=["127.0.0.1"])
    groups["orders"] = OrderSettings(public_base_url=base_url)
    return Settings(
        database_url=database_url, rate_fixed=Decimal("7.20"), log_level="WARNING", log_json=False, **groups
    )


@asynccontextmanager
async def dev_chain(workdir: Path) -> AsyncIterator[Any]:
    """anvil on a free loopback port with the test token deployed and funded."""
    from scripts.devchain.chain import AnvilProcess, Devchain, anvil_binary, compile_token

    artifact = await asyncio.to_thread(compile_token, workdir)
    anvil = AnvilProcess(anvil_binary())
    try:
        await asyncio.to_thread(anvil.wait_ready)
        chain = await Devchain.start(anvil.url, artifact)
        try:
            yield chain
        finally:
            await chain.close()
    finally:
        anvil.stop()


async def seed(settings: Settings, receiving: list[str]) -> str:
    """The merchant (a fresh random signing key) and the receiving addresses."""
    from engine.db import create_engine, create_session_factory
    from engine.merchants import add_merchant, add_wallet
    from engine.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.database_url)
    key = secrets.token_hex(16)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await add_merchant(session, PID, key, "Demo shop", now())
            for address in receiving:
                await add_wallet(session, "eth", address, now(), "demo (anvil account)")
            await session.commit()
    finally:
        await engine.dispose()
    return key


@asynccontextmanager
async def running_usdtpay(settings: Settings, sock: Any) -> AsyncIterator[None]:
    """The API and the workers `usdtpay run` would start, in this process."""
    import uvicorn

    from api.http.app import create_app
    from api.workers.registry import available_workers
    from api.workers.supervisor import WorkerContext, supervise
    from engine.db import create_engine, create_session_factory

    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None, access_log=False))
    engine = create_engine(settings.database_url)
    ctx = WorkerContext(settings=settings, sessions=create_session_factory(engine))
    tasks = [asyncio.create_task(supervise(n, w, ctx)) for n, w in available_workers(settings).items()]
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()  # raises what stopped it
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        ctx.stop.set()
        await asyncio.gather(serving, *tasks, return_exceptions=True)
        await engine.dispose()


def signed_order(key: str, notify_url: str) -> dict[str, Any]:
    from engine.signing import md5_sign

    fields: dict[str, Any] = {
        "pid": PID,
        "chain_type": 2,
        "order_no": f"DEMO-{secrets.token_hex(4)}",
        "amount": "100.00",
        "currency": "CNY",
        "scanpay": 1,
        "notify_url": notify_url,
        "param": '{"demo": true}',
    }
    return {**fields, "signature": md5_sign(fields, key)}


def show(title: str, value: Any) -> None:
    print(f"\n{title}")
    print(json.dumps(value, indent=2, ensure_ascii=False) if not isinstance(value, str) else value)


async def wait_paid(client: Any, key: str, order_no: str) -> dict[str, Any]:
    from engine.signing import md5_sign

    query = {"pid": PID, "order_no": order_no}
    params = {**query, "signature": md5_sign(query, key)}
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        answer: dict[str, Any] = (await client.get("/api/pay/query", params=params)).json()
        if answer["data"]["status"] == "paid" or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.5)


async def pay_and_watch(chain: Any, client: Any, key: str, receiver: Receiver, auto_pay: bool) -> int:
    from engine import money

    order = signed_order(key, receiver.notify_url)
    show("A merchant creates an order (POST /api/pay/create, signed):", order)
    created = (await client.post("/api/pay/create", json=order)).json()
    show("usdtpay answers:", created)
    data = created["data"]
    print(f"\nCashier page for the payer: {client.base_url}/cashier.html?orderId={data['plat_order_no']}")
    print(f"The payer must send exactly {data['amount']} USDT (ERC20) to {data['u_addr']}.")
    if not auto_pay:
        await asyncio.to_thread(
            wait_for_enter, f"\nPress Enter to pay from the funded dev account {chain.payer} ... "
        )
    tx = await chain.pay(data["u_addr"], money.parse_amount(data["amount"], money.USDT_DECIMALS))
    print(f"\nPaid: transaction {tx}; mining {CONFIRMATIONS} more blocks so it is final")
    await chain.mine(CONFIRMATIONS)
    paid = await wait_paid(client, key, order["order_no"])
    show("The merchant queries the order (GET /api/pay/query):", paid)
    if paid["data"]["status"] != "paid":
        print("\nthe order did not turn paid in time; see `usdtpay status` output above")
        return 1
    if not await asyncio.to_thread(receiver.arrived.wait, WAIT_S):
        print("\nno notification arrived in time")
        return 1
    show(f"The notification the merchant received at {receiver.notify_url} (answered `success`):",
         json.loads(receiver.bodies[0]))  # fmt: skip
    print(
        "\nDone: the order is paid and the merchant was told. Nothing was kept; nothing touched a real chain."
    )
    return 0


async def run_demo(auto_pay: bool) -> int:
    import httpx

    receiver = Receiver()
    receiver.notify_url = receiver.start()
    try:
        with tempfile.TemporaryDirectory(prefix="usdtpay-demo-") as tmp:
            async with dev_chain(Path(tmp)) as chain:
                accounts = await chain.w3.eth.accounts
                sock = bound_socket()
                base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
                settings = demo_settings(
                    f"sqlite+aiosqlite:///{tmp}/demo.db", chain.url, chain.token.address, base_url
                )
                print(f"Dev chain (anvil) at {chain.url}, test USDT token {chain.token.address}")
                key = await seed(settings, [accounts[2], accounts[3]])
                print(f"Merchant {PID} (signing key {key}), receiving addresses {accounts[2]}, {accounts[3]}")
                async with running_usdtpay(settings, sock):
                    print(f"usdtpay is running at {base_url} (API docs: {base_url}/schema)")
                    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
                        return await pay_and_watch(chain, client, key, receiver, auto_pay)
    finally:
        receiver.stop()


def wait_for_enter(prompt: str) -> None:
    """Wait for Enter; with no input to read (stdin closed or not a
    terminal: CI, `make demo < /dev/null`) go on at once, as --pay does."""
    try:
        input(prompt)
    except EOFError:
        print("\n(no input to wait on: paying now; --pay skips the question)")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from scripts.devchain.chain import DevchainMissing
    except ImportError:
        print(
            "error: usdtpay demo runs from the source tree (it uses scripts/devchain); "
            "run it there after `make devchain`"
        )
        return 2
    try:
        return asyncio.run(run_demo(args.pay))
    except DevchainMissing as exc:
        print(f"error: {exc}")
        return 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="a whole payment on a local dev chain (anvil): order, cashier URL, payment, notification",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pay", action="store_true", help="pay at once instead of waiting for Enter")


COMMANDS: dict[str, Command] = {"demo": cmd_demo}
