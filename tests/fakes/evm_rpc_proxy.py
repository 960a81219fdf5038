"""A JSON-RPC proxy on loopback in front of a real EVM node (anvil) that
injects the faults public providers produce: 429 with Retry-After, 403,
5xx, a hang past the client's timeout, a body that is not JSON, and the
"range too large" JSON-RPC errors of eth_getLogs.

Faults are queued per JSON-RPC method ("*" for any) and used once each.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import httpx
from aiohttp import web

FAULTS = ("429", "403", "503", "hang", "not_json", "range", "rpc_error")


class RpcFaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.calls: list[str] = []
        self.max_log_range: int | None = None  # refuse wider eth_getLogs like a provider
        self.hang_s = 3.0  # longer than the client's timeout in the tests
        self._runner: web.AppRunner | None = None
        self._client = httpx.AsyncClient(timeout=30)
        self.url = ""

    def inject(self, method: str, *faults: str) -> None:
        for fault in faults:
            assert fault in FAULTS, fault
            self.faults[method].append(fault)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._client.aclose()

    def _next_fault(self, method: str) -> str | None:
        for key in (method, "*"):
            if self.faults[key]:
                return self.faults[key].pop(0)
        return None

    def _too_wide(self, request: dict[str, Any]) -> bool:
        if request.get("method") != "eth_getLogs" or self.max_log_range is None:
            return False
        params = request["params"][0]
        return int(params["toBlock"], 16) - int(params["fromBlock"], 16) + 1 > self.max_log_range

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        message = json.loads(body)
        method = str(message.get("method", ""))
        self.calls.append(method)
        fault = self._next_fault(method)
        if fault is None and self._too_wide(message):
            fault = "range"
        if fault == "429":
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "7"})
        if fault == "403":
            return web.Response(status=403, text='{"error":"daily request limit reached"}')
        if fault == "503":
            return web.Response(status=503, text="<html>Service Unavailable</html>")
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        if fault == "not_json":
            return web.Response(status=200, text="<html>upstream error</html>", content_type="text/html")
        if fault in ("range", "rpc_error"):
            text = "query returned more than 10000 results" if fault == "range" else "internal error"
            error = {"jsonrpc": "2.0", "id": message.get("id"), "error": {"code": -32005, "message": text}}
            return web.json_response(error)
        upstream = await self._client.post(
            self.upstream, content=body, headers={"Content-Type": "application/json"}
        )
        return web.Response(
            status=upstream.status_code, body=upstream.content, content_type="application/json"
        )
