"""One family's data: everything Homeroom holds about it (export), and deleting all of it.

`export_family` is what `/mydata` sends and `homeroom family export` prints: the family row,
its language, its conversation state, its messages, its tickets with their timelines (staff
shown as "school staff"; internal staff notes are staff's working notes and are left out, but
deleted with the rest), its sign-ups with what, when and their status, and the absences it reported.

`delete_family` is `/forgetme` and `homeroom family delete`, as one unit of work (run it in
one transaction, e.g. `Database.transact` or a turn's effect):
- active sign-ups are cancelled through `bot.signups.booking.cancel`, so the seat is freed and
  the first family on the waitlist is promoted and told, exactly as when a family cancels;
- open and claimed tickets are resolved, and staff get a last line in the ticket's Slack thread
  (an outbox `ticket_context` row that carries the thread's `staff_ref` and no `ticket_id`, so it
  survives the ticket's deletion) saying the family deleted its data;
- an open *urgent* ticket (safety, bullying) is the exception the school's duty of care needs:
  what the family reported and when (no chat, no name) moves to `kept_reports` under the same
  number until staff close it (`homeroom tickets resolve N`); staff are told in Slack and by
  email where configured (`tell_staff`), and the audit log records it;
- then every row of the family goes: messages, ticket events, tickets and their outbox rows,
  sign-up reminders and bookings, messages waiting for or sent to its chat, handled inbox rows
  of its chat, conversation state, the family row;
- the audit log keeps only `family.deleted` with the family's number (no name, no text).
Other families' rows are not touched (a promoted family gets its own outbox message).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from bot.handoff import STAFF_CHANNEL, staff_target
from bot.outbox_messages import AbsenceNotice, SignupsAlert, TicketContext
from bot.signups import booking, store
from bot.storage import audit, families, outbox

STAFF_NOTE = ("The family deleted their data (/forgetme). This ticket is closed and its conversation "
              "was removed from Homeroom; replies here will not reach them.")
URGENT_STAFF_NOTE = ("The family deleted their data (/forgetme). Their urgent report #{id} is kept in Homeroom "
                     "(what they reported and when; no conversation, no name) until you close it: "
                     "`homeroom tickets resolve {id}`. Replies will not reach them.")
TellStaff = Callable[[sqlite3.Connection, int, str, str], bool]  # (conn, ticket, text, now) -> told


def open_tickets(conn: sqlite3.Connection, family_id: int) -> list[tuple[int, str, str | None]]:
    """(id, priority, staff_ref) of the family's open and claimed tickets."""
    return conn.execute("SELECT id, priority, staff_ref FROM tickets WHERE family_id = ? AND status != 'resolved'"
                        " ORDER BY id", (family_id,)).fetchall()


def keep_urgent_report(conn: sqlite3.Connection, ticket_id: int, now: str) -> None:
    """The minimum of an open urgent ticket, before the family's rows go: what was reported, when."""
    ticket = conn.execute("SELECT topic, intent, language, created_at FROM tickets WHERE id = ?",
                          (ticket_id,)).fetchone()
    said = conn.execute("SELECT text, translation FROM ticket_events WHERE ticket_id = ? AND kind = 'parent'"
                        " ORDER BY id", (ticket_id,)).fetchall()
    text = "\n".join(t for t, _ in said) or "(no text)"
    english = "\n".join(e for _, e in said if e) or None
    conn.execute("INSERT OR REPLACE INTO kept_reports (ticket_id, topic, intent, language, reported_at, text,"
                 " english, kept_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ticket_id, *ticket, text, english, now))


class FamilyNotFound(LookupError):
    """No family with that number (never existed, or already deleted)."""


def export_family(conn: sqlite3.Connection, family_id: int) -> dict[str, Any]:
    """Everything held about one family, as a JSON-ready dict. FamilyNotFound if there is none."""
    row = conn.execute(
        "SELECT id, channel, channel_user_id, chat_id, display_name, language, language_source, created_at,"
        " last_seen_at FROM families WHERE id = ?", (family_id,)).fetchone()
    if row is None:
        raise FamilyNotFound(f"family {family_id} does not exist")
    keys = ("id", "channel", "channel_user_id", "chat_id", "display_name", "language", "language_source",
            "created_at", "last_seen_at")
    family = dict(zip(keys, row))
    state = conn.execute("SELECT flow, step, data, updated_at FROM conversation_state WHERE family_id = ?",
                         (family_id,)).fetchone()
    messages = [dict(zip(("direction", "text", "language", "translation", "intent", "created_at"), r))
                for r in conn.execute("SELECT direction, text, language, translation, intent, created_at"
                                      " FROM messages WHERE family_id = ? ORDER BY id", (family_id,))]
    tickets = []
    for t in conn.execute("SELECT id, topic, priority, status, language, created_at, resolved_at FROM tickets"
                          " WHERE family_id = ? ORDER BY id", (family_id,)).fetchall():
        events = [{"kind": kind, "from": "you" if kind == "parent" else "school staff", "text": text,
                   "language": language, "translation": translation, "at": at}
                  for kind, text, language, translation, at in conn.execute(
                      "SELECT kind, text, language, translation, created_at FROM ticket_events"
                      " WHERE ticket_id = ? AND kind != 'note' ORDER BY id", (t[0],))]
        tickets.append({**dict(zip(("id", "topic", "priority", "status", "language", "created_at",
                                    "resolved_at"), t)), "events": events})
    signups = []
    for (booking_id,) in conn.execute("SELECT id FROM signup_bookings WHERE family_id = ? ORDER BY id",
                                      (family_id,)).fetchall():
        item = store.item(conn, booking_id)
        if item is None:
            continue
        b = item.booking
        signups.append({"kind": b.kind, "what": item.title, "place": item.place,
                        "starts_at": store.iso(item.starts_at), "ends_at": store.iso(item.ends_at),
                        "name": b.name, "language": b.language, "status": b.status,
                        "waitlist_position": b.position, "signed_up_at": b.created_at,
                        "cancelled_at": b.cancelled_at, "child": b.child_name, "class": b.child_class})
    children = [{"name": name, "class": class_name, "remembered_at": at} for name, class_name, at in conn.execute(
        "SELECT name, class_name, created_at FROM family_children WHERE family_id = ? ORDER BY created_at, name",
        (family_id,))]
    absences = [dict(zip(("child", "days", "reason", "note", "office_notified_by", "reported_at"), r))
                for r in conn.execute("SELECT child, days, reason, note, notified, reported_at FROM absences"
                                      " WHERE family_id = ? ORDER BY id", (family_id,))]
    return {
        "family": family,
        "language": family["language"],
        "conversation": None if state is None else {
            "flow": state[0], "step": state[1], "data": json.loads(state[2] or "{}"), "updated_at": state[3]},
        "messages": messages,
        "tickets": tickets,
        "signups": signups,
        "children": children,  # remembered for the next absence report or conference booking
        "absences": absences,  # reported in the chat
    }


def delete_family(conn: sqlite3.Connection, family_id: int, actor: str, now: str,
                  notifier: booking.Notifier | None = None, tell_staff: TellStaff | None = None) -> dict[str, int]:
    """Cancel, close, then delete every row of one family (see the module docstring). Returns
    rows per table, plus `signups_cancelled`, `families_promoted`, `tickets_closed`,
    `urgent_kept` and `staff_told`. Pass the sign-ups' `Notifier` so a promoted family is told
    (as a cancel would), and `tell_staff` to reach staff beyond Slack (email)."""
    family = families.get(conn, family_id)
    if family is None:
        raise FamilyNotFound(f"family {family_id} does not exist")
    conn.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten (bot.privacy.retention)
    counts: dict[str, int] = {"signups_cancelled": 0, "families_promoted": 0, "tickets_closed": 0,
                              "urgent_kept": 0, "staff_told": 0}

    active = conn.execute("SELECT id FROM signup_bookings WHERE family_id = ? AND status IN ('confirmed',"
                          " 'waitlisted') ORDER BY id", (family_id,)).fetchall()
    for (booking_id,) in active:
        result = booking.cancel(conn, family_id, booking_id, now, notifier)
        if result.status == "cancelled":
            counts["signups_cancelled"] += 1
            counts["families_promoted"] += len(result.promoted)

    for ticket_id, priority, ref in open_tickets(conn, family_id):
        counts["tickets_closed"] += 1
        urgent = priority == "urgent"
        note = URGENT_STAFF_NOTE.format(id=ticket_id) if urgent else STAFF_NOTE
        told = False
        if urgent:
            keep_urgent_report(conn, ticket_id, now)
            counts["urgent_kept"] += 1
            audit.record(conn, actor, "urgent_report.kept", f"ticket {ticket_id}", now)
            told = bool(tell_staff and tell_staff(conn, ticket_id, note, now))
        if ref:  # posted to staff: a last line in its thread (without a ref, staff never saw it)
            outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketContext(note, ref, closed=True), now)
            told = True
        counts["staff_told"] += told

    tickets_of = "SELECT id FROM tickets WHERE family_id = :family"
    bookings_of = "SELECT id FROM signup_bookings WHERE family_id = :family"
    params = {"family": family_id, "channel": family.channel, "chat": family.chat_id}
    steps = (
        ("messages", "DELETE FROM messages WHERE family_id = :family"),
        ("outbox", f"DELETE FROM outbox WHERE ticket_id IN ({tickets_of})"
                   " OR (channel = :channel AND target = :chat)"
                   # staff alerts naming the family (bot.signups.staff.alert), sent or not
                   f" OR (kind = '{SignupsAlert.KIND}' AND json_extract(payload, '$.family_id') = :family)"
                   # absence notices (bot.absences.notice): Slack's by family_id, email's by target
                   f" OR (kind = '{AbsenceNotice.KIND}' AND json_extract(payload, '$.family_id') = :family)"
                   " OR (channel = 'email' AND target LIKE 'absence:' || :family || ':%')"),
        ("ticket_events", f"DELETE FROM ticket_events WHERE ticket_id IN ({tickets_of})"),
        ("tickets", "DELETE FROM tickets WHERE family_id = :family"),
        ("signup_reminders", f"DELETE FROM signup_reminders WHERE booking_id IN ({bookings_of})"),
        ("signup_bookings", "DELETE FROM signup_bookings WHERE family_id = :family"),
        ("family_children", "DELETE FROM family_children WHERE family_id = :family"),
        ("absences", "DELETE FROM absences WHERE family_id = :family"),
        # handled updates only: a pending one (the update being answered now) is finished as usual
        ("inbox", "DELETE FROM inbox WHERE channel = :channel AND chat_id = :chat AND handled_at IS NOT NULL"),
        ("conversation_state", "DELETE FROM conversation_state WHERE family_id = :family"),
        ("families", "DELETE FROM families WHERE id = :family"),
    )
    for table, sql in steps:
        counts[table] = conn.execute(sql, params).rowcount
    audit.record(conn, actor, "family.deleted", f"family {family_id}", now)
    return counts
