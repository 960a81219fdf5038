"""What the console keeps per app: its settings, the templates, and
whether any account exists (the console is off until one does). The
sign-in limit is counted in the database (engine.admin.login_limit)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request

from api.http.state import AppState
from engine.admin import queries
from engine.config import Settings
from engine.money import format_fen, format_usdt

TEMPLATES = Path(__file__).resolve().parent / "templates"
OPEN_RECHECK_S = 10.0


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if abs(seconds) < 120:
        return f"{seconds} s ago" if seconds >= 0 else f"in {-seconds} s"
    minutes = seconds // 60
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def _facts(value: dict[str, Any] | None) -> list[str]:
    """An audit before / after as `key: value` lines, in key order."""
    if not value:
        return []
    return [f"{k}: {'-' if v is None else v}" for k, v in sorted(value.items())]


def build_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a template says otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usdt"] = lambda units: "-" if units is None else format_usdt(units)
    env.filters["fen"] = lambda fen: "-" if fen is None else format_fen(fen)
    env.filters["when"] = _when
    env.filters["facts"] = _facts
    env.globals["ago"] = _ago
    return env


@dataclass
class AdminContext:
    settings: Settings
    env: jinja2.Environment = field(default_factory=build_env)
    _open_until: float = 0.0

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.admin.session_hours)

    @property
    def login_window(self) -> timedelta:
        return timedelta(seconds=self.settings.admin.login_window_seconds)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.admin.idle_minutes)

    async def is_open(self, state: AppState) -> bool:
        """True once an enabled account exists (re-checked every few seconds)."""
        now = time.monotonic()
        if now < self._open_until:
            return True
        async with state.sessions() as session:
            found = await queries.any_account(session)
        if found:
            self._open_until = now + OPEN_RECHECK_S
        return found

    def render(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values)


def admin_context(request: Request[Any, Any, Any]) -> AdminContext:
    app_state = request.app.state
    ctx: AdminContext | None = getattr(app_state, "admin_context", None)
    if ctx is None:
        ctx = AdminContext(settings=app_state.app_state.settings)
        app_state.admin_context = ctx
    return ctx
