"""Files parents send, fetched from their channel when staff need them (a photo of a doctor's
note, a voice message) — only then, so nothing is downloaded for a chat nobody reads.

Each channel that can fetch its files registers a fetcher on the running Homeroom's
`MediaFetchers` (`homeroom.media`); staff tools (the Slack sender) ask it by the channel's name
and get bytes or a `MediaUnavailable` with a reason to show staff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.messages import Media

Fetcher = Callable[[Media], Awaitable[bytes]]
MAX_BYTES = 20 * 1024 * 1024  # the Telegram Bot API serves files up to 20 MB to bots


class MediaUnavailable(Exception):
    """The file cannot be had (too large, gone, no fetcher); the message says why, for staff."""


class MediaFetchers:
    """The running channels' fetchers, by channel name."""

    def __init__(self) -> None:
        self._fetchers: dict[str, Fetcher] = {}

    def register(self, channel: str, fetcher: Fetcher) -> None:
        self._fetchers[channel] = fetcher

    def unregister(self, channel: str) -> None:
        self._fetchers.pop(channel, None)

    async def fetch(self, channel: str, media: Media) -> bytes:
        """The file's bytes; raises MediaUnavailable with a reason staff can act on."""
        if not media.ref:
            raise MediaUnavailable("nothing to download")
        if media.size is not None and media.size > MAX_BYTES:
            raise MediaUnavailable(f"too large to forward ({media.size / 1_048_576:.0f} MB; the limit is "
                                   f"{MAX_BYTES // 1_048_576} MB)")
        fetcher = self._fetchers.get(channel)
        if fetcher is None:
            raise MediaUnavailable(f"the {channel} channel is not running in this process")
        return await fetcher(media)
