"""Tickets: a hand-off to staff, with its timeline of events."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite3

from bot.storage import numbers


@dataclass(slots=True)
class Ticket:
    id: int
    family_id: int
    language: str
    topic: str
    priority: str
    status: str
    reason: str
    intent: str | None
    assignee: str | None
    created_at: str
    updated_at: str
    interpreter: str | None = None
    staff_ref: str | None = None
    first_response_at: str | None = None
    resolved_at: str | None = None


_COLUMNS = ("id, family_id, language, topic, priority, status, reason, intent, assignee,"
            " created_at, updated_at, interpreter, staff_ref, first_response_at, resolved_at")


def open_for_family(conn: sqlite3.Connection, family_id: int) -> Ticket | None:
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM tickets WHERE family_id = ? AND status != 'resolved'"
        " ORDER BY id DESC LIMIT 1", (family_id,))
    row = cur.fetchone()
    return Ticket(*row) if row else None


def create(conn: sqlite3.Connection, family_id: int, language: str, topic: str,
           priority: str, reason: str, intent: str | None, now: str, interpreter: str | None = None) -> int:
    ticket_id = numbers.next_id(conn, "tickets")
    conn.execute(
        "INSERT INTO tickets (id, family_id, language, topic, priority, reason, intent, created_at,"
        " updated_at, interpreter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, family_id, language, topic, priority, reason, intent, now, now, interpreter))
    return ticket_id


def add_event(conn: sqlite3.Connection, ticket_id: int, kind: str, author: str, text: str,
                    now: str, language: str | None = None, translation: str | None = None) -> None:
    conn.execute(
        "INSERT INTO ticket_events (ticket_id, kind, author, text, language, translation, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (ticket_id, kind, author, text, language, translation, now))
    conn.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, ticket_id))


def list_open(conn: sqlite3.Connection) -> list[Ticket]:
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM tickets WHERE status != 'resolved'"
        " ORDER BY priority = 'urgent' DESC, created_at")
    return [Ticket(*r) for r in cur.fetchall()]


def raise_priority(conn: sqlite3.Connection, ticket_id: int, priority: str) -> None:
    conn.execute("UPDATE tickets SET priority = ? WHERE id = ?", (priority, ticket_id))


def get(conn: sqlite3.Connection, ticket_id: int) -> Ticket | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return Ticket(*row) if row else None


def events(conn: sqlite3.Connection, ticket_id: int) -> list[tuple]:
    """(kind, author, text, language, translation, created_at), oldest first."""
    return conn.execute("SELECT kind, author, text, language, translation, created_at FROM ticket_events"
                        " WHERE ticket_id = ? ORDER BY id", (ticket_id,)).fetchall()


def set_status(conn: sqlite3.Connection, ticket_id: int, status: str, staff: str | None, now: str) -> None:
    conn.execute(
        "UPDATE tickets SET status = ?, updated_at = ?,"
        " assignee = CASE WHEN ? = 'claimed' THEN ? ELSE assignee END,"
        " resolved_at = CASE WHEN ? = 'resolved' THEN ? WHEN ? = 'open' THEN NULL ELSE resolved_at END"
        " WHERE id = ?", (status, now, status, staff, status, now, status, ticket_id))


def first_response(conn: sqlite3.Connection, ticket_id: int, now: str) -> None:
    conn.execute("UPDATE tickets SET first_response_at = COALESCE(first_response_at, ?) WHERE id = ?",
                 (now, ticket_id))


def set_interpreter(conn: sqlite3.Connection, ticket_id: int, language_name: str) -> None:
    """Flag the ticket 'needs interpreter' (a reply could not be translated into this language)."""
    conn.execute("UPDATE tickets SET interpreter = ? WHERE id = ?", (language_name, ticket_id))


def set_staff_ref(conn: sqlite3.Connection, ticket_id: int, ref: str) -> None:
    """Where the ticket's staff message lives (e.g. 'C123:1700000000.0001' in Slack)."""
    conn.execute("UPDATE tickets SET staff_ref = ? WHERE id = ?", (ref, ticket_id))


def staff_ref(conn: sqlite3.Connection, ticket_id: int) -> str | None:
    row = conn.execute("SELECT staff_ref FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return row[0] if row else None


def by_staff_ref(conn: sqlite3.Connection, ref: str) -> Ticket | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE staff_ref = ?", (ref,)).fetchone()
    return Ticket(*row) if row else None


def conversation_before(conn: sqlite3.Connection, ticket: Ticket, limit: int = 6) -> list[tuple[str, str, str | None]]:
    """The family's last messages and the bot's answers before the ticket opened, oldest first:
    (direction "in"/"out", text, English translation of an "in"). What staff need for context."""
    rows = conn.execute("SELECT direction, text, translation FROM messages WHERE family_id = ? AND created_at < ?"
                        " ORDER BY id DESC LIMIT ?", (ticket.family_id, ticket.created_at, limit)).fetchall()
    return rows[::-1]
