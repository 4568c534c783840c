"""One conversation's messages one at a time, in arrival order; conversations in parallel.

This is the bot's only ordering mechanism. The engine takes a conversation's turn with it, and
so may a channel that must keep more than the engine's part in order: Telegram holds the turn
around parsing, the engine and sending the replies, so that a parent's two quick messages are
answered, and their answers sent, in the order they were written. Inside a turn the channel
holds, the engine's own request goes straight on (re-entrant within one task), so one
conversation is never ordered twice or waits on itself (a task started inside the turn is
another holder: it waits).

Waiting costs a future per message, not a lock per conversation kept forever: a conversation
with nothing in flight holds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


def conversation_key(channel: str, chat_id: str | int) -> tuple[str, str]:
    """The one key both the channel and the engine use for a conversation."""
    return channel, str(chat_id)


class InOrder:
    """`async with in_order(key):` — one holder per key at a time, in the order they arrived."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}
        self._holders: dict[Hashable, asyncio.Task | None] = {}  # the task holding each key now

    @property
    def busy(self) -> int:
        """Conversations with a message in flight."""
        return len(self._tails)

    @asynccontextmanager
    async def __call__(self, key: Hashable) -> AsyncIterator[None]:
        me = asyncio.current_task()
        if key in self._holders and self._holders[key] is me:
            yield  # this very task holds the conversation (a channel around the engine); not a
            return  # task it started: that one is another holder and waits its turn
        # registered before the first await: the order of arrival is the order here
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        holding = False
        try:
            if previous is not None:
                await asyncio.shield(previous)  # cancelling us must not cancel the chain
            self._holders[key], holding = me, True
            yield
        finally:
            if holding:
                del self._holders[key]
            if previous is not None and not previous.done():
                # cancelled while waiting: whoever comes next still waits for the one before us
                previous.add_done_callback(lambda _: self._release(key, mine))
            else:
                self._release(key, mine)

    def _release(self, key: Hashable, mine: asyncio.Future[None]) -> None:
        if not mine.done():
            mine.set_result(None)
        if self._tails.get(key) is mine:
            del self._tails[key]
