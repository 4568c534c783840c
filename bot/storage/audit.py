"""The staff-access audit log: who viewed, claimed, replied to or exported what, and when.
The database itself refuses UPDATE and DELETE on it (triggers, migration 6)."""

from __future__ import annotations

import sqlite3


def record(conn: sqlite3.Connection, actor: str, action: str, subject: str, now: str) -> None:
    conn.execute("INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
                 (actor, action, subject, now))


def entries(conn: sqlite3.Connection, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
    return conn.execute("SELECT id, actor, action, subject, at FROM audit_log ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()


def first_time(conn: sqlite3.Connection, source: str, event_id: str, now: str) -> bool:
    """Record an external event id (e.g. Slack's event_id); False if it was seen before."""
    cur = conn.execute("INSERT INTO processed_events (source, event_id, processed_at) VALUES (?, ?, ?)"
                       " ON CONFLICT DO NOTHING", (source, event_id, now))
    return cur.rowcount == 1


def seen(conn: sqlite3.Connection, source: str, event_id: str) -> bool:
    """Whether `first_time` recorded this event id before (without recording it)."""
    return conn.execute("SELECT 1 FROM processed_events WHERE source = ? AND event_id = ?",
                        (source, event_id)).fetchone() is not None
