"""Families: one row per channel identity (a Telegram user, a terminal session…)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite3

from bot.storage import numbers


@dataclass(slots=True)
class Family:
    id: int
    channel: str
    channel_user_id: str
    chat_id: str
    display_name: str | None
    language: str | None
    language_source: str | None


_COLUMNS = "id, channel, channel_user_id, chat_id, display_name, language, language_source"


def find(conn: sqlite3.Connection, channel: str, user_id: str) -> Family | None:
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM families WHERE channel = ? AND channel_user_id = ?", (channel, user_id))
    row = cur.fetchone()
    return Family(*row) if row else None


def create(conn: sqlite3.Connection, channel: str, user_id: str, chat_id: str,
                 display_name: str | None, language: str | None, language_source: str | None,
                 now: str) -> Family:
    """Insert a family on first contact (call inside a transaction, after `find` found none)."""
    family_id = numbers.next_id(conn, "families")
    conn.execute(
        "INSERT INTO families (id, channel, channel_user_id, chat_id, display_name, language,"
        " language_source, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (family_id, channel, user_id, chat_id, display_name, language, language_source, now, now))
    return Family(family_id, channel, user_id, chat_id, display_name, language, language_source)


def touch(conn: sqlite3.Connection, family: Family, chat_id: str, display_name: str | None,
          now: str) -> bool:
    """Record that the family was seen (and its current chat and name). False if it is gone."""
    cur = conn.execute(
        "UPDATE families SET last_seen_at = ?, chat_id = ?, display_name = COALESCE(?, display_name)"
        " WHERE id = ?", (now, chat_id, display_name, family.id))
    return cur.rowcount == 1


def get(conn: sqlite3.Connection, family_id: int) -> Family | None:
    cur = conn.execute(f"SELECT {_COLUMNS} FROM families WHERE id = ?", (family_id,))
    row = cur.fetchone()
    return Family(*row) if row else None


def set_language(conn: sqlite3.Connection, family_id: int, language: str, source: str) -> None:
    conn.execute("UPDATE families SET language = ?, language_source = ? WHERE id = ?",
                       (language, source, family_id))
