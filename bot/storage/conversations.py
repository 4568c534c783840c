"""Per-family conversation state, so a restart mid-conversation resumes where it was.

Every save bumps `version`, and a save only succeeds on the version it read: the engine
keeps recent states in memory and learns this way that someone else (another process, a
staff action) changed the family in the meantime. Anything that changes a family's
conversation outside the engine must call `bump`.
"""

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
    version: int = 0


class StaleState(Exception):
    """The stored state is not the version this turn started from."""


def load(conn: sqlite3.Connection, family_id: int) -> ConversationState:
    cur = conn.execute(
        "SELECT flow, step, data, misses, choices, version FROM conversation_state WHERE family_id = ?",
        (family_id,))
    row = cur.fetchone()
    if row is None:
        return ConversationState(family_id)
    return ConversationState(family_id, row[0], row[1], json.loads(row[2]), row[3], json.loads(row[4]),
                             row[5])


def save(conn: sqlite3.Connection, state: ConversationState, now: str) -> None:
    """Write the state if it is still at the version it was read at; raise StaleState otherwise."""
    values = (state.flow, state.step, json.dumps(state.data, ensure_ascii=False), state.misses,
              json.dumps(state.choices, ensure_ascii=False), now)
    if state.version == 0:
        cur = conn.execute(
            "INSERT INTO conversation_state (flow, step, data, misses, choices, updated_at, family_id,"
            " version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (family_id) DO NOTHING",
            (*values, state.family_id))
    else:
        cur = conn.execute(
            "UPDATE conversation_state SET flow = ?, step = ?, data = ?, misses = ?, choices = ?,"
            " updated_at = ?, version = version + 1 WHERE family_id = ? AND version = ?",
            (*values, state.family_id, state.version))
    if cur.rowcount != 1:
        raise StaleState(state.family_id)
    state.version += 1


def bump(conn: sqlite3.Connection, family_id: int) -> None:
    """Mark a family's conversation as changed from outside the engine (invalidates caches)."""
    conn.execute("UPDATE conversation_state SET version = version + 1 WHERE family_id = ?", (family_id,))
