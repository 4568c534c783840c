"""Per-family conversation state, so a restart mid-conversation resumes where it was."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite3


@dataclass(slots=True)
class ConversationState:
    family_id: int
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    misses: int = 0
    # Payloads of the choices last offered: a pick is valid only if it is among them.
    choices: list[str] = field(default_factory=list)


def load(conn: sqlite3.Connection, family_id: int) -> ConversationState:
    cur = conn.execute(
        "SELECT flow, step, data, misses, choices FROM conversation_state WHERE family_id = ?",
        (family_id,))
    row = cur.fetchone()
    if row is None:
        return ConversationState(family_id)
    return ConversationState(family_id, row[0], row[1], json.loads(row[2]), row[3], json.loads(row[4]))


def save(conn: sqlite3.Connection, state: ConversationState, now: str) -> None:
    conn.execute(
        "INSERT INTO conversation_state (family_id, flow, step, data, misses, choices, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (family_id) DO UPDATE SET flow = excluded.flow, step = excluded.step,"
        "   data = excluded.data, misses = excluded.misses, choices = excluded.choices,"
        "   updated_at = excluded.updated_at",
        (state.family_id, state.flow, state.step, json.dumps(state.data, ensure_ascii=False),
         state.misses, json.dumps(state.choices, ensure_ascii=False), now))
