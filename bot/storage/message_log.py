"""The message log: what each family said and what the bot answered, for context and reports."""

from __future__ import annotations

import sqlite3


def append(conn: sqlite3.Connection, family_id: int, direction: str, text: str, now: str,
                 language: str | None = None, translation: str | None = None,
                 intent: str | None = None, confidence: float | None = None) -> int:
    cur = conn.execute(
        "INSERT INTO messages (family_id, direction, text, language, translation, intent, confidence,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (family_id, direction, text, language, translation, intent, confidence, now))
    return cur.lastrowid or 0
