"""The creation check remembers accepted notify URLs (per allow list) for
as long as the resolver remembers their addresses."""

from __future__ import annotations

import pytest

from engine.config import NotifySettings, Settings
from engine.notify import urls
from engine.notify.urls import NotifyUrlRefused, check_notify_url


def allowing(*hosts: str) -> Settings:
    return Settings(notify=NotifySettings(allow_hosts=list(hosts)))


async def test_an_accepted_url_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/memo-accepted"
    await check_notify_url(url, allowing("127.0.0.0/8"))

    async def never(*_: object) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(urls, "resolve_target", never)
    await check_notify_url(url, allowing("127.0.0.0/8"))


async def test_the_allow_list_is_part_of_what_is_remembered() -> None:
    url = "http://127.0.0.1:9/memo-allow-list"
    await check_notify_url(url, allowing("127.0.0.0/8"))
    with pytest.raises(NotifyUrlRefused, match="loopback"):
        await check_notify_url(url, allowing())


async def test_a_refused_url_is_refused_every_time() -> None:
    url = "http://10.0.0.1:9/memo-refused"
    for _ in range(2):
        with pytest.raises(NotifyUrlRefused):
            await check_notify_url(url, allowing())
