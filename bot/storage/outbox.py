"""The outbox: every message that must reach a parent or staff, written in the same transaction
as the event that caused it, then delivered by a worker that retries until it succeeds.

Rows of one (channel, target) are delivered in order: a row waits while an earlier one to the
same place is still pending, so a Slack outage delays a ticket's thread but never reorders it.

A row holds one typed message (`bot.outbox_messages`): its kind and its JSON. A row this
version cannot read reaches its sender as `Unreadable`, so it never stops the rows after it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.outbox_messages import Message, Unreadable, decode
from bot.storage import audit


@dataclass(slots=True)
class Item:
    id: int
    channel: str
    target: str
    kind: str
    ticket_id: int | None
    message: Message | Unreadable
    attempts: int


def add(conn: sqlite3.Connection, channel: str, target: str, message: Message, now: str,
        ticket_id: int | None = None, not_before: str | None = None) -> int:
    """Queue one message (its kind is the message's). `not_before` leases the row to the caller,
    who is sending it right now: the worker leaves it alone until then (and takes it over if the
    caller died)."""
    cur = conn.execute(
        "INSERT INTO outbox (channel, target, kind, ticket_id, payload, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (channel, target, message.KIND, ticket_id, json.dumps(message.to_payload(), ensure_ascii=False),
         not_before or now, now))
    return cur.lastrowid or 0


def mark_undeliverable(conn: sqlite3.Connection, item_id: int, reason: str, now: str) -> bool:
    """The far end refused for good (the family blocked the bot, the chat is gone): given up at
    once, with the reason, and acknowledged — nobody can fix it by retrying, so `homeroom status`
    does not turn red; `homeroom outbox list --dead` still shows it. Returns whether it changed."""
    cur = conn.execute("UPDATE outbox SET status = 'dead', last_error = ?, acknowledged_at = ?,"
                       " attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
                       (f"undeliverable: {reason}"[:500], now, item_id))
    return cur.rowcount == 1


def first_pending(conn: sqlite3.Connection, channel: str, target: str) -> int | None:
    """The oldest row still waiting for this place (None: nothing waits). A new reply must not
    overtake it, whoever wrote it (a previous process, a failed send, staff)."""
    row = conn.execute("SELECT MIN(id) FROM outbox WHERE channel = ? AND target = ? AND status = 'pending'",
                       (channel, target)).fetchone()
    return row[0] if row else None


def release(conn: sqlite3.Connection, item_ids: list[int], now: str) -> None:
    """Hand leased rows to the worker now (their writer could not send them)."""
    conn.executemany("UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                     [(now, item_id) for item_id in item_ids])


def undelivered(conn: sqlite3.Connection, dead_only: bool = False) -> list[tuple]:
    """Rows waiting or given up, for `homeroom outbox list` (no payloads: they hold text)."""
    where = "status = 'dead'" if dead_only else "status IN ('pending', 'dead')"
    return conn.execute(f"SELECT id, status, channel, target, kind, attempts, created_at, last_error,"
                        f" acknowledged_at FROM outbox WHERE {where} ORDER BY id").fetchall()


def requeue(conn: sqlite3.Connection, ids: list[int] | None, now: str) -> int:
    """Put given-up rows (all of them with `ids=None`) back in the queue with fresh attempts."""
    sql = ("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL,"
           " acknowledged_at = NULL WHERE status = 'dead'")
    if ids is None:
        return conn.execute(sql, (now,)).rowcount
    return sum(conn.execute(sql + " AND id = ?", (now, i)).rowcount for i in ids)


def acknowledge(conn: sqlite3.Connection, ids: list[int] | None, actor: str, now: str) -> list[int]:
    """Accept that given-up rows (all not yet acknowledged with `ids=None`) will not be sent:
    `homeroom status` stops counting them. Each goes in the audit log under `actor`. The row
    itself stays (a `retry` still works) until retention removes it."""
    where = "status = 'dead' AND acknowledged_at IS NULL"
    if ids is None:
        found = [row[0] for row in conn.execute(f"SELECT id FROM outbox WHERE {where} ORDER BY id")]
    else:
        found = [i for i in ids if conn.execute(f"SELECT 1 FROM outbox WHERE {where} AND id = ?", (i,)).fetchone()]
    conn.executemany("UPDATE outbox SET acknowledged_at = ? WHERE id = ?", [(now, i) for i in found])
    for item_id in found:
        audit.record(conn, actor, "outbox.acknowledged", f"message #{item_id}", now)
    return found


def release_leases(conn: sqlite3.Connection, channel: str, kind: str, now: str) -> int:
    """At start-up: rows leased by a previous process (which died before sending them) are due now."""
    cur = conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE channel = ? AND kind = ? AND status = 'pending'"
                       " AND next_attempt_at > ?", (now, channel, kind, now))
    return cur.rowcount


def due(conn: sqlite3.Connection, channels: list[str], now: str, limit: int = 50) -> list[Item]:
    """Pending rows that may go now: the oldest pending row of each (channel, target) only."""
    marks = ",".join("?" * len(channels))
    rows = conn.execute(
        f"SELECT o.id, o.channel, o.target, o.kind, o.ticket_id, o.payload, o.attempts FROM outbox o"
        f" WHERE o.status = 'pending' AND o.channel IN ({marks}) AND o.next_attempt_at <= ?"
        "   AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending' AND e.channel = o.channel"
        "                   AND e.target = o.target AND e.id < o.id)"
        " ORDER BY o.id LIMIT ?", (*channels, now, limit)).fetchall()
    return [Item(r[0], r[1], r[2], r[3], r[4], _read(r[3], r[5]), r[6]) for r in rows]


def _read(kind: str, payload: str) -> Message | Unreadable:
    """A row that cannot be read goes to its sender as `Unreadable`, never stopping the others."""
    try:
        return decode(kind, json.loads(payload))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Unreadable(kind, f"{exc.__class__.__name__}: {exc}")


def mark_sent(conn: sqlite3.Connection, item_id: int, now: str, result: dict[str, Any] | None = None) -> bool:
    """Mark delivered (once: a row already sent is left alone). Returns whether it changed."""
    cur = conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1"
                       " WHERE id = ? AND status = 'pending'", (now, item_id))
    return cur.rowcount == 1


def mark_failed(conn: sqlite3.Connection, item_id: int, error: str, now: datetime, retry_after: float | None,
                max_attempts: int = 50) -> None:
    """Schedule a retry with exponential backoff (or the server's Retry-After); give up only
    after `max_attempts` (the row stays, 'dead', for `homeroom status` to show)."""
    row = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (item_id,)).fetchone()
    attempts = (row[0] if row else 0) + 1
    delay = retry_after if retry_after is not None else min(300.0, 0.5 * 2 ** min(attempts, 10))
    status = "dead" if attempts >= max_attempts else "pending"
    conn.execute("UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?, status = ? WHERE id = ?",
                 (attempts, error[:500], (now + timedelta(seconds=delay)).isoformat(), status, item_id))


def depth(conn: sqlite3.Connection) -> tuple[int, str | None]:
    """How many rows wait, and since when (for status and health)."""
    row = conn.execute("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'").fetchone()
    return int(row[0]), row[1]
