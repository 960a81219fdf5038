"""WeChat Pay API v3 bridge."""

from bridges.wechat.channel import WechatChannel

__all__ = ["WechatChannel"]
