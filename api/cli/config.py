"""`usdtpay config check`: the settings every command of this deployment
reads (file and environment merged, secrets masked) and what each enabled
part will connect to. Mistakes in them never get this far: the command line
reports them as one line and exits 2 (engine.config_file)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import Command

if TYPE_CHECKING:
    from engine.config import Settings

MASK = "********"


def _flatten(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Groups (orders, tron, ...) one level down; a mapping setting stays whole."""
    from pydantic import BaseModel

    from engine.config import Settings

    for key, value in data.items():
        field = Settings.model_fields.get(key)
        group = field is not None and isinstance(field.annotation, type)
        if isinstance(value, dict) and group and issubclass(field.annotation, BaseModel):  # type: ignore[union-attr,arg-type]
            for name, inner in value.items():
                yield f"{key}.{name}", inner
        else:
            yield key, value


def _masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def effective_lines(settings: Settings) -> list[str]:
    """`group.name = value` for every setting; SecretStr values masked."""
    import json

    from engine.redact import mask_url

    data = settings.model_dump(mode="json")
    data["database_url"] = _masked_url(settings.database_url)
    # Node and RPC URLs may carry an API key (Infura's /v3/<key>).
    data["tron"]["node_urls"] = [mask_url(url) for url in settings.tron.node_urls]
    data["eth"]["rpc_urls"] = [mask_url(url) for url in settings.eth.rpc_urls]
    lines = []
    for name, value in _flatten(data):
        shown = value.replace("**********", MASK) if isinstance(value, str) else value
        if isinstance(shown, list):
            shown = [MASK if item == "**********" else item for item in shown]
        lines.append(f"{name} = {json.dumps(shown, ensure_ascii=False)}")
    return lines


def _database(settings: Settings) -> str:
    url = settings.database_url
    if url.startswith("sqlite"):
        file = url.split(":///", 1)[-1]
        where = Path(file).resolve() if file and file != ":memory:" else file
        state = "exists" if file and Path(file).is_file() else "will be created by `usdtpay db upgrade`"
        return f"SQLite file {where} ({state})"
    return _masked_url(url)


def connections(settings: Settings) -> list[str]:
    """One line per enabled part: what it talks to."""
    from engine.redact import mask_url

    lines = [f"database: {_database(settings)}"]
    if settings.tron.enabled:
        keys = len(settings.tron.api_keys)
        nodes = ", ".join(mask_url(url) for url in settings.tron.node_urls)
        lines.append(f"tron watcher: {nodes} ({keys} API key(s))")
    if settings.eth.enabled:
        lines.append(f"eth watcher: {', '.join(mask_url(url) for url in settings.eth.rpc_urls)}")
    if not settings.tron.enabled and not settings.eth.enabled:
        lines.append("chain watchers: none enabled (set tron.enabled / eth.enabled)")
    fixed = settings.effective_rate_fixed()
    if fixed is not None:
        lines.append(f"rate: fixed at {fixed} CNY per USDT (no rate source is asked)")
    else:
        urls = {"okx": settings.rate.okx_url, "binance": settings.rate.binance_url}
        urls["coingecko"] = settings.rate.coingecko_url
        sources = [f"{name} {urls[name]}" for name in settings.rate.sources if name in urls]
        lines.append(f"rate sources: {'; '.join(sources) or 'none'}")
    channels = {
        "wechat": (settings.wechat.enabled, settings.wechat.api_base_url),
        "alipay": (settings.alipay.enabled, settings.alipay.gateway_url),
        "quickpay": (settings.quickpay.enabled, settings.quickpay.api_base_url),
    }
    for name, (enabled, url) in channels.items():
        if enabled:
            lines.append(f"{name} channel: {url}")
    allow = ", ".join(settings.notify.allow_hosts) or "public addresses only"
    lines.append(f"merchant notifications: each order's notify_url ({allow})")
    return lines


def cmd_config_check(settings: Settings, args: argparse.Namespace) -> int:
    path = getattr(args, "config_path", None)
    print(f"settings file: {path.resolve() if path else 'none (environment and defaults only)'}")
    print("environment variables USDTPAY_* win over the file; secrets are masked\n")
    for line in effective_lines(settings):
        print(line)
    print("\nconnects to:")
    for line in connections(settings):
        print(f"  {line}")
    return 0


def register(sub: Any) -> None:
    config = sub.add_parser(
        "config", help="the settings every command reads", description="The effective settings."
    ).add_subparsers(dest="sub", required=True, metavar="SUBCOMMAND")
    config.add_parser(
        "check",
        help="print the effective settings (secrets masked) and what each enabled part connects to",
        description="Reads the same settings as every other command; a mistake in them is reported "
        "as one line and exit status 2 before this prints anything.",
    )


COMMANDS: dict[str, Command] = {"config check": cmd_config_check}
