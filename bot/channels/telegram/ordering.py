"""Updates of one chat in order, different chats in parallel.

PTB's `concurrent_updates` runs every update as its own task, so two messages a parent sends
quickly could be answered in the wrong order (and their replies interleave). This processor
chains the updates of each chat: an update starts only when the previous one of the same
chat has finished, while other chats go on. Arrival order is the order PTB hands updates to
the processor (the order `getUpdates` returned them).

Waiting updates cost a future each. They do hold one of PTB's concurrency slots while they
wait (PTB's semaphore is taken before `do_process_update` runs), so the limit is set high and
what it bounds is "updates in flight", not "handlers running".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger("bot.telegram")


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (the user for a callback without a message); None: no order."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class PerChatOrderedProcessor(BaseUpdateProcessor):
    """One chat's updates one at a time and in arrival order; chats in parallel."""

    def __init__(self, max_concurrent_updates: int = 1024) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[int, asyncio.Future[None]] = {}

    @property
    def busy_chats(self) -> int:
        return len(self._tails)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        # Registering happens before the first await, so the order of arrival is the order here.
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        started = False
        try:
            if previous is not None:
                await asyncio.shield(previous)  # cancelling us must not cancel the chain
            started = True
            await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: never awaited, close it quietly
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: by now the Application has waited for every update."""
