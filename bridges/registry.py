"""Build the enabled channels from settings, by name."""

from __future__ import annotations

import asyncio

from bridges.alipay import AlipayChannel
from bridges.quickpay import QuickPayChannel
from bridges.wechat import WechatChannel
from engine.clock import Clock
from engine.config import Settings
from engine.fiat.channel import Channel


def notify_url(settings: Settings, name: str, configured: str) -> str:
    """Where the provider sends callbacks: the channel's own setting, or the
    receiver under the public base URL."""
    return configured or f"{settings.orders.public_base_url.rstrip('/')}/notify/{name}"


def build_channels(settings: Settings, *, clock: Clock | None = None) -> dict[str, Channel]:
    """Channels whose group has `enabled = true`. A missing key or id raises
    at start-up with the setting's name, not on the first payment."""
    channels: dict[str, Channel] = {}
    if settings.wechat.enabled:
        url = notify_url(settings, "wechat", settings.wechat.notify_url)
        channels["wechat"] = WechatChannel(settings.wechat, notify_url=url, clock=clock)
    if settings.alipay.enabled:
        url = notify_url(settings, "alipay", settings.alipay.notify_url)
        channels["alipay"] = AlipayChannel(settings.alipay, notify_url=url, clock=clock)
    if settings.quickpay.enabled:
        url = notify_url(settings, "quickpay", settings.quickpay.notify_url)
        channels["quickpay"] = QuickPayChannel(settings.quickpay, notify_url=url, clock=clock)
    return channels


async def close_channels(channels: dict[str, Channel]) -> None:
    await asyncio.gather(*(channel.aclose() for channel in channels.values()), return_exceptions=True)
