"""Who may do what in the console. An operator may do everything; support
may read every page and resend a merchant's notification, nothing else."""

from __future__ import annotations

from engine.errors import Forbidden

OPERATOR = "operator"
SUPPORT = "support"
ROLES = (OPERATOR, SUPPORT)

# Actions that change something, by name (the audit log uses the same names).
SUPPORT_ACTIONS = frozenset({"resend"})


class NotAllowed(Forbidden):
    code = "not_allowed"


def allowed(role: str, action: str) -> bool:
    return role == OPERATOR or (role == SUPPORT and action in SUPPORT_ACTIONS)


def require(role: str, action: str) -> None:
    if not allowed(role, action):
        raise NotAllowed(f"the {role} role may not {action.replace('_', ' ')}; ask an operator")
