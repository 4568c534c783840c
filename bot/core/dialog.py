"""One turn of a conversation: who is talking, their state, and what the turn will write.

Handlers read and change a Turn; the engine saves it in one transaction at the end, so
a reply is never recorded without the state change that produced it (or vice versa).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import sqlite3
from typing import Callable

from bot.core.messages import Choice, Incoming, Outgoing
from bot.storage.conversations import ConversationState
from bot.storage.families import Family

# A write that must commit together with the turn: fn(connection, now_iso), run on the DB thread.
Effect = Callable[[sqlite3.Connection, str], None]


@dataclass
class Turn:
    incoming: Incoming
    family: Family
    state: ConversationState
    lang: str
    now: datetime
    replies: list[Outgoing] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    decision: str | None = None

    def say(self, text: str, choices: list[Choice] | tuple[Choice, ...] = (), **extra) -> None:
        self.replies.append(Outgoing(channel=self.incoming.channel, chat_id=self.incoming.chat_id,
                                     text=text, choices=tuple(choices), language=self.lang, **extra))

    def effect(self, fn: Effect) -> None:
        """Run `fn(conn, now_iso)` inside the turn's closing transaction."""
        self.effects.append(fn)
