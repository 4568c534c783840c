"""The atomic sign-up operations. Each function here is one unit of work for
`Database.transact` (BEGIN IMMEDIATE … COMMIT): it reads the seats, decides, writes and
returns — nothing else can run in between, so no race overbooks a shift or double-books a
slot, and the partial UNIQUE indexes of migration 7 guard the same rules once more.

- A booking carries an idempotency key (the flow's confirm token): the same key twice —
  a redelivered update, an engine retry — returns the first booking and writes nothing.
- A full shift puts the family on its waitlist with a position (1 = next in line).
- Cancelling a confirmed seat promotes the first on the waitlist in the same transaction and
  writes the promoted family an outbox message with a Decline button (declining is a cancel:
  it passes the seat on). Cancelling a waitlist place moves those behind it up.
- A conference reschedule frees the old slot in the same transaction as it takes the new one.
- A booking's calendar event keeps one UID: a move (a conference reschedule, a changed shift)
  hands the old booking's UID to the new one with a higher SEQUENCE; a cancel and a promotion
  raise the SEQUENCE too (the family gets a file for each: `bot.signups.ics`).

A change to an event that starts within 24 hours also writes a staff alert in the same
transaction (`bot.signups.staff.alert`).

Outbox messages are rendered here, inside the transaction, from the curated catalogs (who is
promoted is only known here; machine translation must not run inside a transaction). The
payload also keeps the msgid and values, so a sender that has a translator can re-render
for a language without curated text (`rendered` says which it got: "curated" or "english").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.messages import Attachment, Choice
from bot.core.payloads import Payload
from bot.i18n import N_, Locales, fill
from bot.outbox_messages import FamilyMessage, SignupText
from bot.signups import ics, staff, store, text
from bot.signups.store import Booking
from bot.storage import children, families, outbox

PROMOTED = N_("Good news! A place opened up and you are now signed up for {title} on {when} ({place}). "
              "If you can no longer come, tap Decline and we will offer it to the next family.")
DECLINE = N_("Decline")
MY_SIGNUPS = N_("My sign-ups")


@dataclass
class Result:
    """What a booking operation did. `status`: confirmed, waitlisted, cancelled, or why not:
    already (the family has it), has_booking (a conference with this teacher exists: offer a
    reschedule), taken (the slot was just booked), gone (no longer offered), past (started),
    not_found (no such booking of this family), already_cancelled."""

    status: str
    booking: Booking | None = None
    previous: Booking | None = None       # the booking replaced, or the one the family already has
    promoted: list[Booking] = field(default_factory=list)
    duplicate: bool = False               # the same idempotency key was seen before: nothing written

    @property
    def position(self) -> int | None:
        return self.booking.position if self.booking else None


class Notifier:
    """Writes the messages a booking change owes other families, in their language (a
    promotion with the seat's calendar file)."""

    def __init__(self, locales: Locales, uid_domain: str = "homeroom.invalid",
                 organizer: tuple[str, str] | None = None) -> None:
        self.locales, self.uid_domain, self.organizer = locales, uid_domain, organizer

    def promoted(self, conn: sqlite3.Connection, booking: Booking, now: str) -> int | None:
        family = families.get(conn, booking.family_id)
        info = store.item(conn, booking.id)
        if family is None or info is None:
            return None
        lang = family.language or booking.language
        values = {"title": text.curated(self.locales, lang, info.title),
                  "when": text.when(info.starts_at, info.ends_at, lang),
                  "place": text.curated(self.locales, lang, info.place)}
        choices = [(DECLINE, Payload("volunteer", "decline", booking.id)), (MY_SIGNUPS, Payload("mysignups", "list"))]
        content = ics.calendar(f"{booking.uid}@{self.uid_domain}", info.starts_at, info.ends_at, values["title"],
                               values["place"], "", datetime.fromisoformat(now), sequence=booking.calendar_sequence,
                               organizer=self.organizer)
        file = ics.attachment(f"volunteer-{info.starts_at:%Y-%m-%d}.ics", content)
        return send(conn, self.locales, family, lang, PROMOTED, values, choices, now, "signup_promoted",
                    attachment=file)


def send(conn: sqlite3.Connection, locales: Locales, family: families.Family, lang: str, msgid: str,
         values: dict, choices: list[tuple[str, Payload]], now: str, event: str,
         rendered_text: str | None = None, labels: list[str] | None = None,
         attachment: Attachment | None = None) -> int:
    """One outbox message to a family (kind "message", like a staff reply) with buttons. The
    buttons' payloads are added to the family's offered choices, so a tap on them is accepted
    by the engine (until the family's next reply with buttons replaces them).

    It runs inside a transaction, where no translation model may run, so without
    `rendered_text` it renders with curated text only (English where there is none) instead of
    the Localizer; a caller outside one renders first (`reminders.send_reminders`)."""
    curated = locales.lookup(lang, msgid)
    body = rendered_text if rendered_text is not None else fill(curated or msgid, values)
    if labels is None:
        labels = [fill(locales.lookup(lang, label) or label, {}) for label, _ in choices]
    rendered = "localizer" if rendered_text is not None else ("curated" if curated or lang == "en" else "english")
    buttons = tuple(Choice(label, data.pack()) for label, (_, data) in zip(labels, choices))
    signup = SignupText(event, buttons, msgid, values, rendered)
    # the engine hands sign-up buttons to the flows whatever was offered last (they check
    # ownership and status), so the family's conversation state is left alone here
    return outbox.add(conn, family.channel, family.chat_id,
                      FamilyMessage(body, lang, signup=signup, attachment=attachment), now)


def _replayed(conn: sqlite3.Connection, key: str) -> Result | None:
    """The result of a booking already made with this idempotency key (a repeated tap, a
    redelivered update): what it became, and nothing done twice."""
    seen = store.booking_by_key(conn, key)
    if seen is None:
        return None
    return Result(seen.status if seen.status != "cancelled" else "already_cancelled", seen, duplicate=True)


# -- volunteer shifts -------------------------------------------------------------------------

def book_shift(conn: sqlite3.Connection, family_id: int, shift_id: int, name: str, language: str, key: str,
               now: str, replace_id: int | None = None, notifier: Notifier | None = None) -> Result:
    """Take a seat on a shift (or a waitlist place when it is full). With `replace_id`, the
    family's booking being changed is cancelled in the same transaction."""
    if (seen := _replayed(conn, key)) is not None:
        return seen
    shift = store.get_shift(conn, shift_id)
    opp = store.get_opportunity(conn, shift.opportunity_id) if shift else None
    if shift is None or opp is None or not shift.active or not opp.active:
        return Result("gone")
    if store.iso(shift.starts_at) <= now:
        return Result("past")
    mine = store.active_for_shift(conn, family_id, shift_id)
    if mine is not None:
        return Result("already", mine, previous=mine)
    previous = None
    promoted: list[Booking] = []
    if replace_id is not None:
        replaced = cancel(conn, family_id, replace_id, now, notifier)
        if replaced.status != "cancelled":
            return Result(replaced.status)
        previous, promoted = replaced.booking, replaced.promoted
    shift = store.get_shift(conn, shift_id) or shift  # counts after the replaced seat was freed
    if shift.confirmed < shift.capacity:
        status, position = "confirmed", None
    else:
        status = "waitlisted"
        position = conn.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM signup_bookings"
                                " WHERE shift_id = ? AND status = 'waitlisted'", (shift_id,)).fetchone()[0]
    uid, sequence = _carried(replaced.previous if replace_id is not None else None)  # as it was before the cancel
    try:
        cur = conn.execute(
            "INSERT INTO signup_bookings (family_id, kind, shift_id, name, language, status, position, created_at,"
            " updated_at, idempotency_key, calendar_uid, calendar_sequence) VALUES (?, 'volunteer', ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?)",
            (family_id, shift_id, name, language, status, position, now, now, key, uid, sequence))
    except sqlite3.IntegrityError:  # the UNIQUE indexes: cannot happen after the checks above
        return Result("already", store.active_for_shift(conn, family_id, shift_id))
    staff.alert(conn, cur.lastrowid, "booked" if status == "confirmed" else "waitlisted", now)
    return Result(status, store.get_booking(conn, cur.lastrowid), previous, promoted)


def promote(conn: sqlite3.Connection, shift_id: int, now: str, notifier: Notifier | None = None) -> list[Booking]:
    """Fill free seats from the head of the waitlist; tell each promoted family."""
    promoted: list[Booking] = []
    shift = store.get_shift(conn, shift_id)
    if shift is None or not shift.active or store.iso(shift.starts_at) <= now:
        return promoted
    free = shift.capacity - shift.confirmed
    while free > 0:
        row = conn.execute("SELECT id, position FROM signup_bookings WHERE shift_id = ? AND status = 'waitlisted'"
                           " ORDER BY position, id LIMIT 1", (shift_id,)).fetchone()
        if row is None:
            break
        conn.execute("UPDATE signup_bookings SET status = 'confirmed', position = NULL, promoted_at = ?,"
                     " updated_at = ?, calendar_sequence = calendar_sequence + 1 WHERE id = ?", (now, now, row[0]))
        conn.execute("UPDATE signup_bookings SET position = position - 1, updated_at = ? WHERE shift_id = ?"
                     " AND status = 'waitlisted' AND position > ?", (now, shift_id, row[1]))
        booking = store.get_booking(conn, row[0])
        assert booking is not None
        promoted.append(booking)
        staff.alert(conn, booking.id, "promoted", now)
        if notifier is not None:
            notifier.promoted(conn, booking, now)
        free -= 1
    return promoted


# -- conference slots -------------------------------------------------------------------------

def book_slot(conn: sqlite3.Connection, family_id: int, slot_id: int, name: str, language: str, key: str,
              now: str, reschedule: bool = False, child: str | None = None, child_class: str | None = None) -> Result:
    """Take a conference slot. One booking per family per teacher: with one already, the
    answer is `has_booking` unless `reschedule`, which moves it here in this transaction (with
    its child, unless another is given). The child is remembered for the family's next booking."""
    if (seen := _replayed(conn, key)) is not None:
        return seen
    slot = store.get_slot(conn, slot_id)
    teacher = store.get_teacher(conn, slot.teacher_id) if slot else None
    if slot is None or teacher is None or not slot.active or not teacher.active:
        return Result("gone")
    if store.iso(slot.starts_at) <= now:
        return Result("past")
    existing = store.active_for_teacher(conn, family_id, teacher.id)
    if existing is not None and existing.slot_id == slot_id:
        return Result("already", existing, previous=existing)
    if slot.booked_by is not None:
        return Result("taken")
    if existing is not None:
        if not reschedule:
            return Result("has_booking", previous=existing)
        conn.execute("UPDATE signup_bookings SET status = 'cancelled', cancelled_at = ?, updated_at = ? WHERE id = ?",
                     (now, now, existing.id))
    if existing is not None and not child:
        child, child_class = existing.child_name, existing.child_class
    uid, sequence = _carried(existing)
    try:
        cur = conn.execute(
            "INSERT INTO signup_bookings (family_id, kind, slot_id, teacher_id, name, language, status, created_at,"
            " updated_at, idempotency_key, child_name, child_class, calendar_uid, calendar_sequence)"
            " VALUES (?, 'conference', ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?, ?, ?, ?)",
            (family_id, slot_id, teacher.id, name, language, now, now, key, child, child_class, uid, sequence))
    except sqlite3.IntegrityError:  # belt and braces: the UNIQUE indexes
        raise SlotTaken() from None
    if child:
        children.remember(conn, family_id, child, now, child_class, teacher.id)
    if existing is not None:
        staff.alert(conn, existing.id, "rescheduled", now)
    staff.alert(conn, cur.lastrowid, "booked", now)
    return Result("confirmed", store.get_booking(conn, cur.lastrowid),
                  previous=store.get_booking(conn, existing.id) if existing else None)


def _carried(previous: Booking | None) -> tuple[str | None, int]:
    """The calendar UID and SEQUENCE a booking that replaces `previous` starts with."""
    if previous is None:
        return None, 0
    return previous.uid, previous.calendar_sequence + 1


class SlotTaken(Exception):
    """Raised to roll the unit back (its SAVEPOINT) when an index refuses a conference booking."""


# -- cancel -----------------------------------------------------------------------------------

def cancel(conn: sqlite3.Connection, family_id: int, booking_id: int, now: str,
           notifier: Notifier | None = None) -> Result:
    """Cancel the family's booking: a freed seat goes to the first on the waitlist at once."""
    booking = store.get_booking(conn, booking_id)
    if booking is None or booking.family_id != family_id:
        return Result("not_found")
    if booking.status == "cancelled":
        return Result("already_cancelled", booking)
    conn.execute("UPDATE signup_bookings SET status = 'cancelled', position = NULL, cancelled_at = ?,"
                 " updated_at = ?, calendar_sequence = calendar_sequence + 1 WHERE id = ?", (now, now, booking_id))
    event = "left_waitlist" if booking.status == "waitlisted" else "declined" if booking.promoted_at else "cancelled"
    staff.alert(conn, booking_id, event, now)  # before the alert for whoever moves up
    promoted: list[Booking] = []
    if booking.kind == "volunteer" and booking.shift_id is not None:
        if booking.status == "waitlisted":
            conn.execute("UPDATE signup_bookings SET position = position - 1, updated_at = ? WHERE shift_id = ?"
                         " AND status = 'waitlisted' AND position > ?", (now, booking.shift_id, booking.position))
        else:
            promoted = promote(conn, booking.shift_id, now, notifier)
    return Result("cancelled", store.get_booking(conn, booking_id), booking, promoted)
