"""Moving on-chain orders past their expiry to `expired`.

They keep their unique-amount reservation (held until expiry + late
window), so a late payment still finds them and settles as paid late.
Fiat orders are left to their channel's query step, which closes them at
the channel too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import Order


async def expire_due(session: AsyncSession, now: datetime) -> int:
    """Expire pending orders whose time is up; returns how many. Flush only."""
    result = await session.execute(
        update(Order)
        .where(Order.status == "pending", Order.expires_at < now, Order.channel.is_(None))
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
