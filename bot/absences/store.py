"""The absences table: one row per confirmed report, written in the turn's own transaction.

A report's `key` is the family and the confirm token the flow showed, unique, so a second tap
on Confirm (or the engine redoing the turn) finds the row instead of writing another.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

REASONS = ("sick", "appointment", "family", "other")


@dataclass(frozen=True)
class Absence:
    id: int
    family_id: int
    child: str
    guardian: str
    language: str
    days: tuple[date, ...]
    reason: str
    note: str
    notified: tuple[str, ...]
    reported_at: str


_COLUMNS = "id, family_id, child, guardian, language, days, reason, note, notified, reported_at"


def _row(row) -> Absence:
    return Absence(row[0], row[1], row[2], row[3], row[4], tuple(date.fromisoformat(d) for d in row[5].split(",")),
                   row[6], row[7], tuple(c for c in row[8].split(",") if c), row[9])


def record(conn: sqlite3.Connection, family_id: int, child: str, guardian: str, language: str,
           days: list[date], reason: str, note: str, notified: tuple[str, ...], key: str,
           now: str) -> int | None:
    """Insert the report; its id, or None when this key was recorded already (a repeated tap)."""
    if reason not in REASONS:
        raise ValueError(f"not an absence reason: {reason!r}")
    ordered = sorted(days)
    cur = conn.execute(
        "INSERT OR IGNORE INTO absences (family_id, child, guardian, language, days, first_day, last_day, reason,"
        " note, notified, reported_at, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (family_id, child, guardian, language, ",".join(d.isoformat() for d in ordered), ordered[0].isoformat(),
         ordered[-1].isoformat(), reason, note, ",".join(notified), now, key))
    return cur.lastrowid if cur.rowcount == 1 else None


def by_key(conn: sqlite3.Connection, key: str) -> Absence | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM absences WHERE key = ?", (key,)).fetchone()
    return _row(row) if row else None


def for_family(conn: sqlite3.Connection, family_id: int, since: date | None = None) -> list[Absence]:
    """The family's reports whose last day is `since` or later (all without it), soonest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM absences WHERE family_id = ? AND last_day >= ?"
                        " ORDER BY first_day, id", (family_id, since.isoformat() if since else "")).fetchall()
    return [_row(r) for r in rows]


def on_day(conn: sqlite3.Connection, day: date) -> list[Absence]:
    """Every report that names `day`, in the order they came in."""
    iso = day.isoformat()
    rows = conn.execute(f"SELECT {_COLUMNS} FROM absences WHERE first_day <= ? AND last_day >= ? ORDER BY id",
                        (iso, iso)).fetchall()
    return [a for a in map(_row, rows) if day in a.days]
