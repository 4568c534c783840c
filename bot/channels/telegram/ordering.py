"""Telegram updates of one chat in order, different chats in parallel.

PTB's `concurrent_updates` runs every update as its own task, so two messages a parent sends
quickly could be answered in the wrong order (and their replies interleave). This processor
holds the chat's turn in the bot's one ordering mechanism (`bot.core.ordering.InOrder`, the
engine's) around the whole update — parsing, the engine, sending the replies — so an update
starts only when the previous one of the same chat has finished, while other chats go on. The
engine's own request for the turn then goes straight on. Arrival order is the order PTB hands
updates to the processor (the order `getUpdates` returned them).

Waiting updates cost a future each. They do hold one of PTB's concurrency slots while they
wait (PTB's semaphore is taken before `do_process_update` runs), so the limit is set high and
what it bounds is "updates in flight", not "handlers running".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.core.ordering import InOrder, conversation_key

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

    def __init__(self, in_order: InOrder, channel: str, max_concurrent_updates: int = 1024) -> None:
        super().__init__(max_concurrent_updates)
        self.in_order, self.channel = in_order, channel

    @property
    def busy_chats(self) -> int:
        return self.in_order.busy

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        started = False
        try:
            async with self.in_order(conversation_key(self.channel, key)):
                started = True
                await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: never awaited, close it quietly

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: by now the Application has waited for every update."""
