"""One turn of a conversation: who is talking, their state, and what the turn will write.

Handlers read and change a Turn and say things in English (`Text`); the engine localizes
the drafts and saves everything in one transaction at the end, so a reply is never recorded
without the state change that produced it (or vice versa). A turn carries the understanding
snapshot it started with, so its catalog and matcher do not change under it (`homeroom reload`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

from bot.core.localize import Draft, Text
from bot.core.messages import Attachment, Incoming, Outgoing
from bot.core.payloads import Payload
from bot.storage.conversations import ConversationState
from bot.storage.families import Family
from bot.understanding.snapshot import UnderstandingSnapshot

# A write that must commit together with the turn: fn(connection, now_iso), run on the DB thread.
Effect = Callable[[sqlite3.Connection, str], None]
Label = str | Text


@dataclass
class Turn:
    incoming: Incoming
    family: Family
    state: ConversationState
    lang: str
    now: datetime
    understanding: UnderstandingSnapshot  # taken once, at the turn's start: one catalog throughout
    drafts: list[Draft] = field(default_factory=list)
    replies: list[Outgoing] = field(default_factory=list)  # the drafts, localized
    effects: list[Effect] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    decision: str | None = None
    english: str | None = None  # the parent's words in English, when translated
    # what a tapped topic button says the question was about (an answer hook's own value, e.g.
    # the calendar's days): the tap carries no text of its own to read it from
    about: str | None = None
    family_deleted: bool = False  # an effect deletes the family (/forgetme): save no state, cache nothing
    # awaited once the turn's transaction committed (not on a retried attempt); a failure is logged
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def say(self, text: str | Text, choices: list[tuple[Label, Payload]] | tuple = (),
            attachment: Attachment | None = None) -> None:
        """Queue a reply: `text` is an English msgid (or a Text, whose values may be Texts: staff
        words, details); choices are (label, payload). The engine's Localizer renders it all."""
        body = text if isinstance(text, Text) else Text(text)
        labels = [(label if isinstance(label, Text) else Text(label), _packed(payload)) for label, payload in choices]
        self.drafts.append(Draft(body, labels, attachment))

    def effect(self, fn: Effect) -> None:
        """Run `fn(conn, now_iso)` inside the turn's closing transaction."""
        self.effects.append(fn)


def _packed(payload: Payload) -> str:
    if not isinstance(payload, Payload):  # every button is made as a Payload, so it is checked
        raise TypeError(f"a button's payload must be a Payload, not {payload!r}")
    return payload.pack()
