"""Sending `Outgoing` replies to a Telegram chat: pacing, splitting, keyboards, files, retries.

Rate limits come in two layers. PTB's `AIORateLimiter` keeps the whole bot under Telegram's
global limit (~30 messages/s, 20/min per group) and, on a 429 `RetryAfter`, waits the time
Telegram asks for and sends again — once. On top, `ChatPacer` keeps each chat at about one
message per second (Telegram's guidance for a single chat), with a small burst so the two or
three parts of one answer arrive together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Bot, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.channels.telegram.render import escape, keyboard, split_text
from bot.core.messages import Outgoing

log = logging.getLogger("bot.telegram")

PARALLEL_SENDS = 8


class ChatPacer:
    """About one message per `interval` seconds per chat (a token bucket of `burst` messages).
    `interval <= 0` turns pacing off."""

    def __init__(self, interval: float = 1.0, burst: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[int | str, tuple[float, float]] = {}  # chat -> (tokens, at)

    def reserve(self, chat: int | str) -> float:
        """Take a slot for one message to `chat`; returns how long to wait before sending it."""
        if self.interval <= 0:
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.get(chat, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.interval) - 1.0
        self._buckets[chat] = (tokens, now)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        return -tokens * self.interval if tokens < 0 else 0.0

    async def wait(self, chat: int | str) -> float:
        delay = self.reserve(chat)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    def _forget_idle(self, now: float) -> None:
        for chat, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) / self.interval >= self.burst:
                del self._buckets[chat]


class SendFailed(Exception):
    """A reply could not be delivered. `permanent`: retrying will not help (the family blocked
    the bot, the chat is gone); otherwise it may go through later (network, Telegram down)."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class TelegramSender:
    """Delivers replies to one chat at a time; the caller keeps a chat's sends in order."""

    def __init__(self, bot: Bot, pacer: ChatPacer, retries: int = 2, retry_delay: float = 1.0,
                 parallel: int = PARALLEL_SENDS) -> None:
        self.bot = bot
        self.pacer = pacer
        self.retries = retries
        self.retry_delay = retry_delay
        # At most this many API calls in flight: letting hundreds of replies queue inside the
        # HTTP client's pool costs far more than queueing them here (measured with httpx against
        # the local fake: ~400 calls/s with 4-8 in flight, ~190/s with 64).
        self._slots = asyncio.Semaphore(parallel)

    async def send(self, chat_id: int | str, reply: Outgoing) -> int:
        """Send one reply: its text in parts (keyboard on the last), then its attachment.
        Returns the number of Telegram messages sent. Raises SendFailed."""
        sent = 0
        parts = split_text(reply.text) if reply.text.strip() else []
        markup = keyboard(reply.choices)
        if not parts and markup is not None:
            log.warning("telegram.empty_reply chat=%s choices=%d", mask(chat_id), len(reply.choices))
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._call(chat_id, lambda part=part, last=last: self.bot.send_message(
                chat_id, escape(part), parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None))
            sent += 1
        if reply.attachment is not None:
            attachment = reply.attachment
            await self._call(chat_id, lambda: self.bot.send_document(
                chat_id, InputFile(attachment.content, filename=attachment.filename)))
            sent += 1
        return sent

    async def send_text(self, chat_id: int | str, text: str, reply_markup=None) -> None:
        """A fixed notice of the adapter's own (already in the family's language)."""
        await self._call(chat_id, lambda: self.bot.send_message(
            chat_id, escape(text), parse_mode=ParseMode.HTML, reply_markup=reply_markup))

    async def unpaced(self, request: Callable[[], Awaitable[object]]) -> object:
        """A call that is not a message to a chat (answering a button tap), in the same slots."""
        async with self._slots:
            return await request()

    async def _call(self, chat_id: int | str, request: Callable[[], object]) -> Message:
        """One API call, paced; a network failure or a Telegram 5xx is tried again a couple of
        times (AIORateLimiter already waited out any 429)."""
        attempt = 0
        while True:
            await self.pacer.wait(chat_id)
            try:
                async with self._slots:
                    return await request()  # type: ignore[misc]
            except Forbidden as exc:  # blocked by the user, kicked from the chat
                raise SendFailed(f"forbidden: {exc}", permanent=True) from None
            except BadRequest as exc:  # chat not found, message invalid: retrying won't help
                raise SendFailed(f"bad_request: {exc}", permanent=True) from None
            except RetryAfter as exc:  # still limited after AIORateLimiter's retries
                if attempt >= self.retries:
                    raise SendFailed(f"retry_after: {exc}", permanent=False) from None
                await asyncio.sleep(_retry_seconds(exc))
            except NetworkError as exc:  # includes TimedOut and Telegram's 5xx answers
                if attempt >= self.retries:
                    raise SendFailed(f"network: {exc.__class__.__name__}: {exc}", permanent=False) from None
                log.info("telegram.send_retry chat=%s error=%s", mask(chat_id), exc.__class__.__name__)
                await asyncio.sleep(self.retry_delay * (attempt + 1))
            attempt += 1


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 deprecates reading `retry_after` as an int; its own limiter reads the timedelta
    value = getattr(exc, "_retry_after", None)
    return value.total_seconds() + 0.1 if hasattr(value, "total_seconds") else 1.0


def mask(chat_id: int | str | None) -> str:
    """A chat id for logs: enough to tell chats apart in one incident, not to find the family."""
    if chat_id is None:
        return "-"
    text = str(chat_id)
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-")
    return f"{sign}{digits[:2]}…{digits[-2:]}" if len(digits) > 6 else f"{sign}…"
