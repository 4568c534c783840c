"""Open urgent reports of families who deleted their data (/forgetme): the school's duty of care
keeps what was reported and when, under the ticket's number, until staff close it; closing
deletes it (bot.privacy.family_data writes them)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class KeptReport:
    ticket_id: int
    topic: str
    intent: str | None
    language: str
    reported_at: str
    text: str
    english: str | None
    kept_at: str


def list_all(conn: sqlite3.Connection) -> list[KeptReport]:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kept_reports'").fetchone():
        return []
    return [KeptReport(*r) for r in conn.execute(
        "SELECT ticket_id, topic, intent, language, reported_at, text, english, kept_at FROM kept_reports"
        " ORDER BY ticket_id")]


def get(conn: sqlite3.Connection, ticket_id: int) -> KeptReport | None:
    return next((r for r in list_all(conn) if r.ticket_id == ticket_id), None)


def close(conn: sqlite3.Connection, ticket_id: int) -> bool:
    """Delete the kept report (staff closed it); False if there was none."""
    conn.execute("PRAGMA secure_delete = ON")
    return conn.execute("DELETE FROM kept_reports WHERE ticket_id = ?", (ticket_id,)).rowcount == 1
