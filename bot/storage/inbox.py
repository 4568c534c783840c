"""The inbox: every update a channel received, written before it is handled (Telegram's
updates; Slack's staff replies, see `bot.channels.slack.durable`).

Why: Telegram's long polling confirms an update (the next `getUpdates` offset) before our
handler has finished with it, so after a crash Telegram never sends it again. The adapter
records each update here first, marks it handled once the replies went out, and on start-up
handles what is left. The same update delivered twice (a webhook retry, a replay, an
overlapping poll) is recognized by its id and does nothing the second time.

A handled row keeps only its id, times and outcome: the message content (`payload`) is
cleared, so the inbox is not a second copy of what families wrote. Handled rows are pruned
after a couple of days (Telegram never redelivers an update that old).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NEW, PENDING, HANDLED = "new", "pending", "handled"


@dataclass(frozen=True, slots=True)
class Row:
    update_id: int
    chat_id: str | None
    payload: str
    received_at: str
    attempts: int


def record(conn: sqlite3.Connection, channel: str, updates: Iterable[tuple[int, str | None, str]],
           now: str) -> list[int]:
    """Store received updates `(update_id, chat_id, payload JSON)`; ids already present are left
    alone. Returns the ids that were new. Call inside a transaction (`Database.transact`)."""
    new: list[int] = []
    for update_id, chat_id, payload in updates:
        cur = conn.execute("INSERT OR IGNORE INTO inbox (channel, update_id, chat_id, payload, received_at)"
                           " VALUES (?, ?, ?, ?, ?)", (channel, int(update_id), chat_id, payload, now))
        if cur.rowcount == 1:
            new.append(int(update_id))
    return new


def record_event(conn: sqlite3.Connection, channel: str, event_id: str, chat_id: str | None, payload: str,
                 now: str) -> bool:
    """Store one event keyed by the platform's own string id (Slack's `event_id`; the column's
    INTEGER affinity keeps a non-numeric id as text). False if it was already there."""
    cur = conn.execute("INSERT OR IGNORE INTO inbox (channel, update_id, chat_id, payload, received_at)"
                       " VALUES (?, ?, ?, ?, ?)", (channel, event_id, chat_id, payload, now))
    return cur.rowcount == 1


def claim(conn: sqlite3.Connection, channel: str, update_id: int, chat_id: str | None,
          payload: Callable[[], str], now: str) -> str:
    """Before handling an update: NEW (first seen now; recorded), PENDING (recorded earlier but
    not handled: a fetch not yet handled, or a crash mid-handler) or HANDLED (a duplicate: do
    nothing). `payload` is called only when the row has to be written."""
    row = conn.execute("SELECT handled_at FROM inbox WHERE channel = ? AND update_id = ?",
                       (channel, update_id)).fetchone()
    if row is None:
        conn.execute("INSERT INTO inbox (channel, update_id, chat_id, payload, received_at)"
                     " VALUES (?, ?, ?, ?, ?)", (channel, update_id, chat_id, payload(), now))
        return NEW
    return HANDLED if row[0] is not None else PENDING


def finish(conn: sqlite3.Connection, channel: str, update_id: int, outcome: str, now: str) -> bool:
    """Mark an update handled (and forget its content). False if it was already handled."""
    cur = conn.execute(
        "UPDATE inbox SET handled_at = ?, outcome = ?, payload = NULL"
        " WHERE channel = ? AND update_id = ? AND handled_at IS NULL", (now, outcome, channel, update_id))
    return cur.rowcount == 1


def status(conn: sqlite3.Connection, channel: str, update_id: int) -> tuple[str | None, str | None] | None:
    """(handled_at, outcome) of an update, or None if it was never received."""
    row = conn.execute("SELECT handled_at, outcome FROM inbox WHERE channel = ? AND update_id = ?",
                       (channel, update_id)).fetchone()
    return (row[0], row[1]) if row else None


def take_unhandled(conn: sqlite3.Connection, channel: str, now: str,
                   max_attempts: int = 3) -> tuple[list[Row], list[int]]:
    """At start-up: the updates left unhandled, oldest first, each counted as one more attempt.
    An update already tried `max_attempts` times (it crashed the bot each time, or its replies
    could never be sent) is given up: marked handled with outcome "gave_up" and returned in the
    second list, so one poisoned update cannot stop the bot from starting. Call in a transaction."""
    rows = conn.execute(
        "SELECT update_id, chat_id, payload, received_at, attempts FROM inbox"
        " WHERE channel = ? AND handled_at IS NULL ORDER BY received_at, update_id", (channel,)).fetchall()
    retry: list[Row] = []
    given_up: list[int] = []
    for update_id, chat_id, payload, received_at, attempts in rows:
        if attempts >= max_attempts or payload is None:
            finish(conn, channel, update_id, "gave_up", now)
            given_up.append(update_id)
            continue
        conn.execute("UPDATE inbox SET attempts = attempts + 1 WHERE channel = ? AND update_id = ?",
                     (channel, update_id))
        retry.append(Row(update_id, chat_id, payload, received_at, attempts + 1))
    return retry, given_up


def prune(conn: sqlite3.Connection, channel: str, before: str) -> int:
    """Forget handled updates handled before `before` (ISO time). Returns how many."""
    cur = conn.execute("DELETE FROM inbox WHERE channel = ? AND handled_at IS NOT NULL AND handled_at < ?",
                       (channel, before))
    return cur.rowcount


def counts(conn: sqlite3.Connection, channel: str) -> dict[str, int]:
    """Handled and unhandled rows of a channel (for `status` output and tests)."""
    row = conn.execute(
        "SELECT COUNT(*) - COUNT(handled_at), COUNT(handled_at) FROM inbox WHERE channel = ?",
        (channel,)).fetchone()
    return {"unhandled": int(row[0] or 0), "handled": int(row[1] or 0)}


# -- groups told once that the bot works in private chat -------------------------------------

def group_notified(conn: sqlite3.Connection, channel: str, chat_id: str) -> bool:
    return conn.execute("SELECT 1 FROM group_notices WHERE channel = ? AND chat_id = ?",
                        (channel, chat_id)).fetchone() is not None


def remember_group(conn: sqlite3.Connection, channel: str, chat_id: str, now: str) -> bool:
    """Remember that a group got the notice. False if it already had."""
    cur = conn.execute("INSERT OR IGNORE INTO group_notices (channel, chat_id, notified_at) VALUES (?, ?, ?)",
                       (channel, chat_id, now))
    return cur.rowcount == 1


def forget_group(conn: sqlite3.Connection, channel: str, chat_id: str) -> None:
    """The bot left the group: if it is added again, the group hears the notice again."""
    conn.execute("DELETE FROM group_notices WHERE channel = ? AND chat_id = ?", (channel, chat_id))
