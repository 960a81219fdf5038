"""Service health for the HTTP faces (dryad's /api/health, the console):
engine.monitoring.health computes it from the shared figures; this module
only binds it to the app's sessions, settings and clock."""

from __future__ import annotations

from api.http.state import AppState
from engine.monitoring import health as figures
from engine.monitoring.health import DEGRADED, DOWN, UP, Health

__all__ = ["DEGRADED", "DOWN", "UP", "Health", "check"]


async def check(state: AppState) -> Health:
    return await figures.check(state.sessions, state.settings, state.now())
