"""Retention: delete what families wrote once the school no longer needs it.

The policy is the school profile's `[retention]` table (`bot.config.RetentionPolicy`; days):

| data | kept | rows |
|---|---|---|
| message text and translations | `messages_days` (180) after it was written | `messages` |
| Telegram updates (raw message JSON) | `messages_days` after they arrived | `inbox` |
| delivered or given-up outgoing messages | `messages_days` after they went | `outbox` (sent, dead) |
| external event ids (Slack dedupe) | `messages_days` | `processed_events` |
| tickets and their timeline | `tickets_days` (730) after they were resolved; open and claimed tickets are never purged | `tickets`, `ticket_events`, their `outbox` rows |
| sign-ups | `signups_days` (30) after the event ended (any status) | `signup_bookings`, `signup_reminders` |
| absences reported in the chat (the school's own attendance system keeps the record) | `messages_days` after the last day absent | `absences` |
| a family itself (name, chat id, language, conversation state) | once it has been silent for `messages_days` and nothing above is left | `families`, `conversation_state` |
| the staff-access audit log | never: its triggers refuse DELETE; it holds no names and no text | `audit_log` |

School data (sign-up opportunities, shifts, teachers, slots) and group notices are not
families' data and are left alone.

Children are deleted before their parents, each with its own count, so the numbers are exact
whether or not foreign keys cascade. A dry run does the same deletes inside a SAVEPOINT and
rolls them back: its counts are the real purge's, with nothing removed.

Really gone: SQLite normally leaves deleted text in free pages of the file and in old frames of
the write-ahead log. We set `PRAGMA secure_delete=ON` on the connection before deleting (SQLite
then overwrites deleted content and freed pages with zeros), and after the commit run
`PRAGMA wal_checkpoint(TRUNCATE)`, which copies the zeroed pages into the database file and
truncates the -wal file to nothing. We chose this over VACUUM: VACUUM rewrites the whole file
(twice its size on disk, every write blocked while it runs) every day, while secure_delete
costs a few page writes per delete, and stays on for the connection (the bot's one connection
then also zeroes what `/forgetme` and cleared inbox payloads remove). A checkpoint cannot
finish while another process is reading; then it says "busy", we log it, and the next daily
run (or `homeroom purge`) finishes it.

Logs carry counts only, never text.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from bot.config import RetentionPolicy
from bot.core.messages import utcnow
from bot.periodic import every

log = logging.getLogger("bot.privacy")

__all__ = ["RetentionPolicy", "purge", "run_purge", "checkpoint", "retention_loop", "TABLES", "DAY"]

DAY = 24 * 60 * 60.0
# Every table the purge reports on, in the order it deletes (children first).
TABLES = ("messages", "inbox", "outbox", "processed_events", "ticket_events", "tickets",
          "signup_reminders", "signup_bookings", "absences", "conversation_state", "families")

_EXPIRED_TICKETS = ("SELECT id FROM tickets WHERE status = 'resolved'"
                    " AND COALESCE(resolved_at, updated_at) < :tickets")
_EXPIRED_BOOKINGS = ("SELECT b.id FROM signup_bookings b"
                     " LEFT JOIN signup_shifts s ON s.id = b.shift_id"
                     " LEFT JOIN conference_slots c ON c.id = b.slot_id"
                     " WHERE COALESCE(s.ends_at, c.ends_at) < :signups")
_IDLE_FAMILIES = ("SELECT f.id FROM families f WHERE f.last_seen_at < :messages"
                  " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.family_id = f.id)"
                  " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.family_id = f.id)"
                  " AND NOT EXISTS (SELECT 1 FROM signup_bookings b WHERE b.family_id = f.id)"
                  " AND NOT EXISTS (SELECT 1 FROM absences a WHERE a.family_id = f.id)")

# (table, WHERE clause) in deletion order; parameters are the cutoffs by name.
_RULES: tuple[tuple[str, str], ...] = (
    ("messages", "created_at < :messages"),
    ("inbox", "COALESCE(handled_at, received_at) < :messages"),
    ("outbox", f"ticket_id IN ({_EXPIRED_TICKETS})"
               " OR (status IN ('sent', 'dead') AND COALESCE(sent_at, created_at) < :messages)"),
    ("processed_events", "processed_at < :messages"),
    ("ticket_events", f"ticket_id IN ({_EXPIRED_TICKETS})"),
    ("tickets", f"id IN ({_EXPIRED_TICKETS})"),
    ("signup_reminders", f"booking_id IN ({_EXPIRED_BOOKINGS})"),
    ("signup_bookings", f"id IN ({_EXPIRED_BOOKINGS})"),
    ("absences", "last_day < substr(:messages, 1, 10)"),  # a school date (YYYY-MM-DD) against the cutoff's day
    ("conversation_state", f"family_id IN ({_IDLE_FAMILIES})"),
    ("families", f"id IN ({_IDLE_FAMILIES})"),
)


def cutoffs(policy: RetentionPolicy, now: datetime) -> dict[str, str]:
    """The ISO times before which each kind of row has expired (stored times are UTC ISO)."""
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return {"messages": (now - timedelta(days=policy.messages_days)).isoformat(),
            "tickets": (now - timedelta(days=policy.tickets_days)).isoformat(),
            "signups": (now - timedelta(days=policy.signups_days)).isoformat()}


def purge(conn: sqlite3.Connection, policy: RetentionPolicy, now: datetime, dry_run: bool = False) -> dict[str, int]:
    """Delete every expired row; return the rows removed (or, dry run, that would be) per table.

    Inside a transaction (e.g. `Database.transact`) it only deletes: the caller runs
    `checkpoint` after the commit. On a connection with no open transaction it runs its own
    (BEGIN IMMEDIATE … COMMIT) and checkpoints itself."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        counts = _delete(conn, cutoffs(policy, now), dry_run)
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if own and not dry_run:
        checkpoint(conn)
    return counts


def _delete(conn: sqlite3.Connection, cuts: dict[str, str], dry_run: bool) -> dict[str, int]:
    conn.execute("PRAGMA secure_delete = ON")  # see the module docstring
    conn.execute("SAVEPOINT purge")
    try:
        counts = {table: conn.execute(f"DELETE FROM {table} WHERE {where}", cuts).rowcount
                  for table, where in _RULES}  # fixed SQL above, values bound by name
    except BaseException:
        conn.execute("ROLLBACK TO purge")
        conn.execute("RELEASE purge")
        raise
    if dry_run:
        conn.execute("ROLLBACK TO purge")
    conn.execute("RELEASE purge")
    return counts


def checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the database file and truncate it, so deleted text is not
    left in old WAL frames. False when another connection's reader kept it from finishing."""
    row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    busy = bool(row and row[0])
    if busy:
        log.warning("retention.checkpoint_busy (another process is reading; the next run finishes it)")
    return not busy


async def run_purge(db, policy: RetentionPolicy, now: datetime, dry_run: bool = False) -> dict[str, int]:
    """One purge through the app's `Database`: one write transaction, then a checkpoint."""
    counts = await db.transact(purge, policy, now, dry_run)
    if not dry_run:
        await db.run(checkpoint)
    log.info("retention.%s %s", "dry_run" if dry_run else "purged",
             " ".join(f"{table}={n}" for table, n in counts.items()))
    return counts


async def retention_loop(db, policy: RetentionPolicy, stop: asyncio.Event,
                         clock: Callable[[], datetime] = utcnow, interval: float = DAY) -> None:
    """Purge at start and then every `interval` seconds (daily) until `stop` is set. A failed
    run is logged and tried again at the next interval; it never stops the bot."""
    await every(interval, stop, lambda: run_purge(db, policy, clock()), "retention")
