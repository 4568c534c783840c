"""Per-family conversation state, so a restart mid-conversation resumes where it was.

Every save bumps `version`, and a save only succeeds on the version it read: the engine
keeps recent states in memory and learns this way that someone else (another process, a
staff action) changed the family in the meantime. Anything that changes a family's
conversation outside the engine must call `bump`.

`data` is split by owner: each flow (by its name), the hand-off (`HANDOFF`) and the language
question (`LANGUAGE`) keep their keys in a namespace of their own (`space`, `peek`, `drop`), so
no module reads or clears another's keys by accident, and ending a flow cannot touch an open
ticket. `save` refuses a key outside a namespace (migration 15 moved the flat keys of older versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Mapping
from types import MappingProxyType
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

    def space(self, owner: str) -> dict[str, Any]:
        """`owner`'s keys, to read and change (created empty on first use)."""
        return self.data.setdefault(owner, {})

    def peek(self, owner: str) -> Mapping[str, Any]:
        """`owner`'s keys, read-only; empty when it has none (creates nothing)."""
        return MappingProxyType(self.data.get(owner) or {})

    def drop(self, owner: str) -> None:
        """Forget everything `owner` kept (a flow that ends, a ticket that closes)."""
        self.data.pop(owner, None)


HANDOFF = "handoff"    # ticket: the open ticket's id; acked: the family was told where its messages go
LANGUAGE = "language"  # asked / declined: the language the bot offered, and the one the family turned down


class StaleState(Exception):
    """The stored state is not the version this turn started from."""


def load(conn: sqlite3.Connection, family_id: int) -> ConversationState:
    cur = conn.execute(
        "SELECT flow, step, data, misses, choices, version FROM conversation_state WHERE family_id = ?",
        (family_id,))
    row = cur.fetchone()
    if row is None:
        return ConversationState(family_id)
    # a flat key migration 15 did not know (or a null it left) belongs to no owner today: dropped
    # here, or every later save would refuse this family's state
    data = {owner: keys for owner, keys in json.loads(row[2]).items() if isinstance(keys, dict)}
    return ConversationState(family_id, row[0], row[1], data, row[3], json.loads(row[4]), row[5])


def save(conn: sqlite3.Connection, state: ConversationState, now: str) -> None:
    """Write the state if it is still at the version it was read at; raise StaleState otherwise."""
    loose = [key for key, value in state.data.items() if not isinstance(value, dict)]
    if loose:
        raise ValueError(f"conversation state keys outside an owner's namespace: {loose}")
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
