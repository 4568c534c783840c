"""Closures announced on the day (a snow day, a power cut): staff add them with
`homeroom closure add`, and the bot answers them before anything the calendar says.

They live in SQLite, not in the calendar file, so the running bot sees one the moment it is
added (each answer reads the table) and a URL calendar that is fetched later cannot lose it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Closure:
    day: date
    reason: str
    added_by: str
    added_at: str


def _row(row) -> Closure:
    return Closure(date.fromisoformat(row[0]), row[1], row[2], row[3])


def add(conn: sqlite3.Connection, day: date, reason: str, added_by: str, now: str) -> bool:
    """Add or replace the closure of `day`. True when the day had none before."""
    existed = conn.execute("SELECT 1 FROM closures WHERE day = ?", (day.isoformat(),)).fetchone()
    conn.execute("INSERT INTO closures (day, reason, added_by, added_at) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (day) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by, "
                 "added_at = excluded.added_at", (day.isoformat(), reason, added_by, now))
    return existed is None


def remove(conn: sqlite3.Connection, day: date) -> bool:
    return conn.execute("DELETE FROM closures WHERE day = ?", (day.isoformat(),)).rowcount > 0


def on(conn: sqlite3.Connection, day: date) -> Closure | None:
    row = conn.execute("SELECT day, reason, added_by, added_at FROM closures WHERE day = ?",
                       (day.isoformat(),)).fetchone()
    return _row(row) if row else None


def between(conn: sqlite3.Connection, first: date, last: date) -> list[Closure]:
    rows = conn.execute("SELECT day, reason, added_by, added_at FROM closures WHERE day BETWEEN ? AND ? "
                        "ORDER BY day", (first.isoformat(), last.isoformat())).fetchall()
    return [_row(r) for r in rows]


def listed(conn: sqlite3.Connection, since: date | None = None) -> list[Closure]:
    rows = conn.execute("SELECT day, reason, added_by, added_at FROM closures WHERE day >= ? ORDER BY day",
                        ((since or date.min).isoformat(),)).fetchall()
    return [_row(r) for r in rows]
