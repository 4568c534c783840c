"""Sign-up tables as plain sqlite3 functions (run them through `Database.run` / `transact`).

Times are stored as UTC ISO strings to the second (`iso()`), so they compare as text; each
shift and slot also keeps the time zone it was defined in, to show it (and to know "the day
before") in the school's local time.

Definitions are the source of truth for what is offered: `sync` makes the tables match them
at start-up (and after an import). A shift or slot that is no longer defined is deactivated,
never deleted, so its bookings keep their history. Two edits are refused rather than
applied, each with the names of the people affected: shrinking a shift below the people
already confirmed on it, and removing a shift or slot that still has people booked in the
future. The stored row then keeps its old value and the refusal is reported (start-up logs
it; `homeroom signups import` fails with it).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from bot.signups.definitions import Definitions, Requirement

UTC = timezone.utc
ACTIVE = ("confirmed", "waitlisted")


def iso(moment: datetime) -> str:
    """An aware datetime as the stored form: UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse(stored: str, tz: str | ZoneInfo = "UTC") -> datetime:
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return datetime.fromisoformat(stored).astimezone(zone)


@dataclass(slots=True)
class Opportunity:
    id: str
    title: str
    description: str
    location: str
    requirements: list[Requirement]
    who_may_sign_up: str | None
    bring: str | None
    active: bool


@dataclass(slots=True)
class Shift:
    id: int
    opportunity_id: str
    key: str
    starts_at: datetime
    ends_at: datetime
    tz: str
    capacity: int
    active: bool
    confirmed: int = 0
    waitlisted: int = 0
    mine: int | None = None  # the asking family's active booking on it, if any
    mine_waitlisted: bool = False  # …and that booking is a waitlist place, not a seat

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.confirmed)


@dataclass(slots=True)
class Teacher:
    id: str
    name: str
    class_name: str
    room: str | None
    video_link: str | None
    languages: list[str]
    active: bool
    classes: list[str] = field(default_factory=list)  # where the teacher has several: the family picks one

    @property
    def place(self) -> str:
        return self.room or self.video_link or ""


@dataclass(slots=True)
class Slot:
    id: int
    teacher_id: str
    key: str
    starts_at: datetime
    ends_at: datetime
    tz: str
    active: bool
    booked_by: int | None = None  # family id holding it


@dataclass(slots=True)
class Booking:
    id: int
    family_id: int
    kind: str
    shift_id: int | None
    slot_id: int | None
    teacher_id: str | None
    name: str
    language: str
    status: str
    position: int | None
    created_at: str
    updated_at: str
    promoted_at: str | None
    cancelled_at: str | None
    idempotency_key: str | None
    child_name: str | None = None
    child_class: str | None = None
    calendar_uid: str | None = None   # kept across moves; None: made from the id (`uid`)
    calendar_sequence: int = 0        # raised on each change the family is sent a file for

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def uid(self) -> str:
        """The calendar event's UID before the '@domain': one per booking, the same after a move."""
        return self.calendar_uid or f"homeroom-booking-{self.id}"

    @property
    def who(self) -> str:
        """Child and guardian for staff ('Mai Nguyen (2B) — guardian: Lan Nguyen'), or the name alone."""
        if not self.child_name:
            return self.name
        child = self.child_name + (f" ({self.child_class})" if self.child_class else "")
        return f"{child} — guardian: {self.name}"


_BOOKING = ("id, family_id, kind, shift_id, slot_id, teacher_id, name, language, status, position, created_at,"
            " updated_at, promoted_at, cancelled_at, idempotency_key, child_name, child_class, calendar_uid,"
            " calendar_sequence")
_NB = len(_BOOKING.split(", "))
_SHIFT = "s.id, s.opportunity_id, s.key, s.starts_at, s.ends_at, s.tz, s.capacity, s.active"
_COUNTS = ("(SELECT COUNT(*) FROM signup_bookings b WHERE b.shift_id = s.id AND b.status = 'confirmed'),"
           " (SELECT COUNT(*) FROM signup_bookings b WHERE b.shift_id = s.id AND b.status = 'waitlisted')")
_SLOT = "s.id, s.teacher_id, s.key, s.starts_at, s.ends_at, s.tz, s.active"


def _booking(row: Any) -> Booking:
    return Booking(*row)


def _shift(row: Any) -> Shift:
    shift = Shift(row[0], row[1], row[2], parse(row[3], row[5]), parse(row[4], row[5]), row[5], row[6], bool(row[7]))
    if len(row) > 8:
        shift.confirmed, shift.waitlisted = row[8], row[9]
    if len(row) > 10:
        shift.mine = row[10]
        shift.mine_waitlisted = row[11] == "waitlisted"
    return shift


def _slot(row: Any) -> Slot:
    slot = Slot(row[0], row[1], row[2], parse(row[3], row[5]), parse(row[4], row[5]), row[5], bool(row[6]))
    if len(row) > 7:
        slot.booked_by = row[7]
    return slot


def _opportunity(row: Any) -> Opportunity:
    reqs = [Requirement(r.get("text", ""), r.get("link")) for r in json.loads(row[4])]
    return Opportunity(row[0], row[1], row[2], row[3], reqs, row[5], row[6], bool(row[7]))


def _teacher(row: Any) -> Teacher:
    return Teacher(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), bool(row[6]),
                   json.loads(row[7]) if len(row) > 7 and row[7] else [])


_OPP = "id, title, description, location, requirements, who_may_sign_up, bring, active"
_TEACHER = "id, name, class_name, room, video_link, languages, active, classes"


# -- sync from definitions ----------------------------------------------------------------

@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    refusals: list[str] = field(default_factory=list)
    promoted: list[Booking] = field(default_factory=list)


def sync(conn: sqlite3.Connection, defs: Definitions, now: str,
         promote: Callable[[sqlite3.Connection, int, str], list[Booking]] | None = None) -> SyncReport:
    """Make the tables match `defs` (call in a transaction). `promote(conn, shift_id, now)` is
    called for a shift whose capacity grew, so its waitlist moves up at once."""
    report = SyncReport()
    tz_name = defs.timezone
    # volunteer opportunities and shifts
    wanted_opps = {o.id: o for o in defs.opportunities}
    for opp in defs.opportunities:
        reqs = json.dumps([{"text": r.text, **({"link": r.link} if r.link else {})} for r in opp.requirements],
                          ensure_ascii=False)
        conn.execute(
            "INSERT INTO signup_opportunities (id, title, description, location, requirements, who_may_sign_up,"
            " bring, source, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,"
            " location = excluded.location, requirements = excluded.requirements,"
            " who_may_sign_up = excluded.who_may_sign_up, bring = excluded.bring, source = excluded.source,"
            " active = 1, updated_at = excluded.updated_at",
            (opp.id, opp.title, opp.description, opp.location, reqs, opp.who_may_sign_up, opp.bring, opp.where, now))
        existing = {row[1]: row for row in conn.execute(
            "SELECT id, key, capacity, active, starts_at, ends_at FROM signup_shifts WHERE opportunity_id = ?",
            (opp.id,))}
        for shift in opp.shifts:
            row = existing.pop(shift.key, None)
            if row is None:
                conn.execute("INSERT INTO signup_shifts (opportunity_id, key, starts_at, ends_at, tz, capacity)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             (opp.id, shift.key, iso(shift.start), iso(shift.end), tz_name, shift.capacity))
                report.added += 1
                continue
            shift_id, _, old_capacity, _, _, _ = row
            capacity = shift.capacity
            if capacity < old_capacity:
                names = _active_names(conn, "shift_id", shift_id, "confirmed")
                if len(names) > capacity:
                    report.refusals.append(
                        f"{shift.where}: '{opp.id}' {shift.key.replace('T', ' ')}: capacity {capacity} is below "
                        f"the {len(names)} people signed up ({', '.join(names)}); keeping {old_capacity}. "
                        "Cancel someone first, or keep the capacity.")
                    capacity = old_capacity
            conn.execute("UPDATE signup_shifts SET starts_at = ?, ends_at = ?, tz = ?, capacity = ?, active = 1"
                         " WHERE id = ?", (iso(shift.start), iso(shift.end), tz_name, capacity, shift_id))
            report.updated += 1
            if capacity > old_capacity and promote is not None:
                report.promoted.extend(promote(conn, shift_id, now))
        for key, row in existing.items():
            if row[3]:
                _deactivate(conn, report, "signup_shifts", "shift_id", row[0], row[4], now,
                            f"'{opp.id}' shift {key.replace('T', ' ')}", opp.where)
    for row in conn.execute("SELECT id FROM signup_opportunities WHERE active = 1").fetchall():
        if row[0] in wanted_opps:
            continue
        kept = False
        for shift in conn.execute("SELECT id, key, starts_at FROM signup_shifts WHERE opportunity_id = ? AND active = 1",
                                  (row[0],)).fetchall():
            kept |= not _deactivate(conn, report, "signup_shifts", "shift_id", shift[0], shift[2], now,
                                    f"'{row[0]}' shift {shift[1].replace('T', ' ')}", "definitions")
        if not kept:
            conn.execute("UPDATE signup_opportunities SET active = 0, updated_at = ? WHERE id = ?", (now, row[0]))
    # conference teachers and slots
    wanted_teachers = {t.id: t for t in defs.teachers}
    tz = defs.tz
    for teacher in defs.teachers:
        conn.execute(
            "INSERT INTO conference_teachers (id, name, class_name, room, video_link, languages, source, active,"
            " updated_at, classes) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " name = excluded.name, class_name = excluded.class_name, room = excluded.room,"
            " video_link = excluded.video_link, languages = excluded.languages, source = excluded.source, active = 1,"
            " updated_at = excluded.updated_at, classes = excluded.classes",
            (teacher.id, teacher.name, teacher.class_name, teacher.room, teacher.video_link,
             json.dumps(list(teacher.languages)), teacher.where, now,
             json.dumps(list(teacher.classes), ensure_ascii=False)))
        existing = {row[1]: row for row in conn.execute(
            "SELECT id, key, active, starts_at FROM conference_slots WHERE teacher_id = ?", (teacher.id,))}
        for slot in teacher.slots(tz):
            row = existing.pop(slot.key, None)
            if row is None:
                conn.execute("INSERT INTO conference_slots (teacher_id, key, starts_at, ends_at, tz)"
                             " VALUES (?, ?, ?, ?, ?)", (teacher.id, slot.key, iso(slot.start), iso(slot.end), tz_name))
                report.added += 1
            else:
                conn.execute("UPDATE conference_slots SET starts_at = ?, ends_at = ?, tz = ?, active = 1 WHERE id = ?",
                             (iso(slot.start), iso(slot.end), tz_name, row[0]))
                report.updated += 1
        for key, row in existing.items():
            if row[2]:
                _deactivate(conn, report, "conference_slots", "slot_id", row[0], row[3], now,
                            f"{teacher.name} slot {key.replace('T', ' ')}", teacher.where)
    for row in conn.execute("SELECT id, name FROM conference_teachers WHERE active = 1").fetchall():
        if row[0] in wanted_teachers:
            continue
        kept = False
        for slot in conn.execute("SELECT id, key, starts_at FROM conference_slots WHERE teacher_id = ? AND active = 1",
                                 (row[0],)).fetchall():
            kept |= not _deactivate(conn, report, "conference_slots", "slot_id", slot[0], slot[2], now,
                                    f"{row[1]} slot {slot[1].replace('T', ' ')}", "definitions")
        if not kept:
            conn.execute("UPDATE conference_teachers SET active = 0, updated_at = ? WHERE id = ?", (now, row[0]))
    return report


def _active_names(conn: sqlite3.Connection, column: str, item_id: int, *statuses: str) -> list[str]:
    marks = ",".join("?" * len(statuses))
    return [r[0] for r in conn.execute(
        f"SELECT name FROM signup_bookings WHERE {column} = ? AND status IN ({marks}) ORDER BY id",
        (item_id, *statuses))]


def _deactivate(conn: sqlite3.Connection, report: SyncReport, table: str, column: str, item_id: int,
                starts_at: str, now: str, label: str, where: str) -> bool:
    """Deactivate a shift/slot no longer defined; refused (False) while people are booked on it
    for the future."""
    names = _active_names(conn, column, item_id, *ACTIVE) if starts_at > now else []
    if names:
        report.refusals.append(f"{where}: {label} is no longer defined but {len(names)} people are signed up "
                               f"({', '.join(names)}); keeping it. Cancel them first, or put it back.")
        return False
    conn.execute(f"UPDATE {table} SET active = 0 WHERE id = ?", (item_id,))  # fixed table names only
    report.deactivated += 1
    return True


# -- reads ---------------------------------------------------------------------------------

def open_opportunities(conn: sqlite3.Connection, now: str) -> list[tuple[Opportunity, int]]:
    """Active opportunities with at least one active future shift, with that count, by first shift."""
    rows = conn.execute(
        f"SELECT {', '.join('o.' + c for c in _OPP.split(', '))}, COUNT(s.id), MIN(s.starts_at)"
        " FROM signup_opportunities o JOIN signup_shifts s ON s.opportunity_id = o.id"
        " WHERE o.active = 1 AND s.active = 1 AND s.starts_at > ?"
        " GROUP BY o.id ORDER BY MIN(s.starts_at), o.id", (now,)).fetchall()
    return [(_opportunity(r[:8]), r[8]) for r in rows]


def get_opportunity(conn: sqlite3.Connection, opp_id: str) -> Opportunity | None:
    row = conn.execute(f"SELECT {_OPP} FROM signup_opportunities WHERE id = ?", (opp_id,)).fetchone()
    return _opportunity(row) if row else None


def shifts_for(conn: sqlite3.Connection, opp_id: str, now: str, family_id: int | None = None) -> list[Shift]:
    """The opportunity's active future shifts with their counts (and the family's booking)."""
    rows = conn.execute(
        f"SELECT {_SHIFT}, {_COUNTS}, mine.id, mine.status FROM signup_shifts s"
        " LEFT JOIN signup_bookings mine ON mine.shift_id = s.id AND mine.family_id = ?"
        "  AND mine.status IN ('confirmed', 'waitlisted')"
        " WHERE s.opportunity_id = ? AND s.active = 1 AND s.starts_at > ?"
        " ORDER BY s.starts_at, s.id", (family_id or 0, opp_id, now)).fetchall()
    return [_shift(r) for r in rows]


def get_shift(conn: sqlite3.Connection, shift_id: int) -> Shift | None:
    row = conn.execute(f"SELECT {_SHIFT}, {_COUNTS} FROM signup_shifts s WHERE s.id = ?", (shift_id,)).fetchone()
    return _shift(row) if row else None


def teachers(conn: sqlite3.Connection, now: str) -> list[tuple[Teacher, int]]:
    """Active teachers with their count of free future slots (teachers with none included)."""
    rows = conn.execute(
        f"SELECT {', '.join('t.' + c for c in _TEACHER.split(', '))},"
        " (SELECT COUNT(*) FROM conference_slots s WHERE s.teacher_id = t.id AND s.active = 1 AND s.starts_at > ?"
        "   AND NOT EXISTS (SELECT 1 FROM signup_bookings b WHERE b.slot_id = s.id AND b.status != 'cancelled'))"
        " FROM conference_teachers t WHERE t.active = 1 ORDER BY t.name, t.id", (now,)).fetchall()
    return [(_teacher(r[:8]), r[8]) for r in rows]


def get_teacher(conn: sqlite3.Connection, teacher_id: str) -> Teacher | None:
    row = conn.execute(f"SELECT {_TEACHER} FROM conference_teachers WHERE id = ?", (teacher_id,)).fetchone()
    return _teacher(row) if row else None


def free_slots(conn: sqlite3.Connection, teacher_id: str, now: str) -> list[Slot]:
    rows = conn.execute(
        f"SELECT {_SLOT} FROM conference_slots s WHERE s.teacher_id = ? AND s.active = 1 AND s.starts_at > ?"
        " AND NOT EXISTS (SELECT 1 FROM signup_bookings b WHERE b.slot_id = s.id AND b.status != 'cancelled')"
        " ORDER BY s.starts_at", (teacher_id, now)).fetchall()
    return [_slot(r) for r in rows]


def get_slot(conn: sqlite3.Connection, slot_id: int) -> Slot | None:
    row = conn.execute(
        f"SELECT {_SLOT}, (SELECT b.family_id FROM signup_bookings b WHERE b.slot_id = s.id"
        "  AND b.status != 'cancelled') FROM conference_slots s WHERE s.id = ?", (slot_id,)).fetchone()
    return _slot(row) if row else None


def get_booking(conn: sqlite3.Connection, booking_id: int) -> Booking | None:
    row = conn.execute(f"SELECT {_BOOKING} FROM signup_bookings WHERE id = ?", (booking_id,)).fetchone()
    return _booking(row) if row else None


def booking_by_key(conn: sqlite3.Connection, key: str) -> Booking | None:
    row = conn.execute(f"SELECT {_BOOKING} FROM signup_bookings WHERE idempotency_key = ?", (key,)).fetchone()
    return _booking(row) if row else None


def active_for_shift(conn: sqlite3.Connection, family_id: int, shift_id: int) -> Booking | None:
    row = conn.execute(f"SELECT {_BOOKING} FROM signup_bookings WHERE family_id = ? AND shift_id = ?"
                       " AND kind = 'volunteer' AND status != 'cancelled'", (family_id, shift_id)).fetchone()
    return _booking(row) if row else None


def active_for_teacher(conn: sqlite3.Connection, family_id: int, teacher_id: str) -> Booking | None:
    row = conn.execute(f"SELECT {_BOOKING} FROM signup_bookings WHERE family_id = ? AND teacher_id = ?"
                       " AND kind = 'conference' AND status != 'cancelled'", (family_id, teacher_id)).fetchone()
    return _booking(row) if row else None


@dataclass(slots=True)
class Item:
    """A booking with what it is for, for lists (/mysignups, reminders, exports)."""

    booking: Booking
    title: str              # opportunity title or teacher name
    detail: str             # location, or class
    place: str              # location, room or video link
    starts_at: datetime
    ends_at: datetime
    opportunity_id: str | None = None
    teacher_languages: list[str] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    bring: str | None = None
    description: str = ""

    @property
    def needs_interpreter(self) -> bool:
        """A conference in a language the teacher does not speak: staff arrange an interpreter."""
        return self.booking.kind == "conference" and self.booking.language not in self.teacher_languages


_ITEM_SQL = (
    f"SELECT {', '.join('b.' + c for c in _BOOKING.split(', '))},"
    " COALESCE(o.title, t.name), COALESCE(o.location, t.class_name), COALESCE(o.location, t.room, t.video_link, ''),"
    " COALESCE(s.starts_at, c.starts_at), COALESCE(s.ends_at, c.ends_at), COALESCE(s.tz, c.tz),"
    " o.id, t.languages, o.requirements, o.bring, COALESCE(o.description, '')"
    " FROM signup_bookings b"
    " LEFT JOIN signup_shifts s ON s.id = b.shift_id LEFT JOIN signup_opportunities o ON o.id = s.opportunity_id"
    " LEFT JOIN conference_slots c ON c.id = b.slot_id LEFT JOIN conference_teachers t ON t.id = b.teacher_id")


def _item(row: Any) -> Item:
    booking = _booking(row[:_NB])
    r = row[_NB:]
    tz = r[5]
    reqs = [Requirement(x.get("text", ""), x.get("link")) for x in json.loads(r[8])] if r[8] else []
    return Item(booking, r[0], r[1] or "", r[2] or "", parse(r[3], tz), parse(r[4], tz),
                r[6], json.loads(r[7]) if r[7] else [], reqs, r[9], r[10] or "")


def item(conn: sqlite3.Connection, booking_id: int) -> Item | None:
    row = conn.execute(_ITEM_SQL + " WHERE b.id = ?", (booking_id,)).fetchone()
    return _item(row) if row else None


def family_items(conn: sqlite3.Connection, family_id: int, now: str) -> list[Item]:
    """The family's active bookings that have not ended, soonest first."""
    rows = conn.execute(_ITEM_SQL + " WHERE b.family_id = ? AND b.status IN ('confirmed', 'waitlisted')"
                        " AND COALESCE(s.ends_at, c.ends_at) > ? ORDER BY COALESCE(s.starts_at, c.starts_at), b.id",
                        (family_id, now)).fetchall()
    return [_item(r) for r in rows]


def roster(conn: sqlite3.Connection, include_cancelled: bool = False) -> list[Item]:
    """Every booking (active ones unless asked), by event time then arrival."""
    where = "" if include_cancelled else " WHERE b.status IN ('confirmed', 'waitlisted')"
    rows = conn.execute(_ITEM_SQL + where + " ORDER BY b.kind DESC, COALESCE(s.starts_at, c.starts_at),"
                        " COALESCE(o.id, t.id), b.status, b.position, b.id").fetchall()
    return [_item(r) for r in rows]


def summary(conn: sqlite3.Connection) -> tuple[list[tuple[Opportunity, list[Shift]]], list[tuple[Teacher, int, int]]]:
    """Everything active with counts: opportunities with their shifts; teachers with (booked, total) slots."""
    opps = [_opportunity(r) for r in conn.execute(
        f"SELECT {_OPP} FROM signup_opportunities o WHERE active = 1 ORDER BY"
        " (SELECT MIN(starts_at) FROM signup_shifts s WHERE s.opportunity_id = o.id AND s.active = 1), id")]
    out = []
    for opp in opps:
        rows = conn.execute(f"SELECT {_SHIFT}, {_COUNTS} FROM signup_shifts s WHERE s.opportunity_id = ?"
                            " AND s.active = 1 ORDER BY s.starts_at", (opp.id,)).fetchall()
        out.append((opp, [_shift(r) for r in rows]))
    teachers_out = []
    for row in conn.execute(f"SELECT {_TEACHER} FROM conference_teachers WHERE active = 1 ORDER BY name").fetchall():
        teacher = _teacher(row)
        total, booked = conn.execute(
            "SELECT COUNT(*), SUM(EXISTS (SELECT 1 FROM signup_bookings b WHERE b.slot_id = s.id"
            " AND b.status != 'cancelled')) FROM conference_slots s WHERE s.teacher_id = ? AND s.active = 1",
            (teacher.id,)).fetchone()
        teachers_out.append((teacher, booked or 0, total))
    return out, teachers_out


# -- one trip per step: what a flow needs to show a step, read together ------------------------

@dataclass(slots=True)
class TeacherView:
    teacher: Teacher | None
    free: list[Slot]
    existing: Item | None  # the family's active conference with this teacher


def teacher_view(conn: sqlite3.Connection, teacher_id: str, now: str, family_id: int) -> TeacherView:
    teacher = get_teacher(conn, teacher_id)
    if teacher is None:
        return TeacherView(None, [], None)
    mine = active_for_teacher(conn, family_id, teacher_id)
    return TeacherView(teacher, free_slots(conn, teacher_id, now), item(conn, mine.id) if mine else None)


@dataclass(slots=True)
class SlotView:
    slot: Slot | None
    teacher: Teacher | None
    existing: Item | None


def slot_view(conn: sqlite3.Connection, slot_id: int, family_id: int) -> SlotView:
    slot = get_slot(conn, slot_id)
    teacher = get_teacher(conn, slot.teacher_id) if slot else None
    mine = active_for_teacher(conn, family_id, teacher.id) if teacher else None
    return SlotView(slot, teacher, item(conn, mine.id) if mine else None)


def teacher_list(conn: sqlite3.Connection, now: str, family_id: int) -> tuple[list[tuple[Teacher, int]], set[str]]:
    """Active teachers with free-slot counts, and the teachers the family has a conference with."""
    mine = {i.booking.teacher_id for i in family_items(conn, family_id, now) if i.booking.kind == "conference"}
    return teachers(conn, now), {t for t in mine if t}


@dataclass(slots=True)
class ShiftView:
    shift: Shift | None
    opportunity: Opportunity | None
    mine: Booking | None     # the family's active booking on this shift
    replacing: Item | None   # the booking being changed, if any


def shift_view(conn: sqlite3.Connection, shift_id: int, family_id: int, replace_id: int | None = None) -> ShiftView:
    shift = get_shift(conn, shift_id)
    opp = get_opportunity(conn, shift.opportunity_id) if shift else None
    mine = active_for_shift(conn, family_id, shift_id) if shift else None
    return ShiftView(shift, opp, mine, item(conn, replace_id) if replace_id else None)


def opportunity_view(conn: sqlite3.Connection, opp_id: str, now: str,
                     family_id: int) -> tuple[Opportunity | None, list[Shift]]:
    opp = get_opportunity(conn, opp_id)
    return opp, (shifts_for(conn, opp_id, now, family_id) if opp else [])


def bump_sequence(conn: sqlite3.Connection, booking_id: int, now: str) -> int:
    """Raise the booking's calendar SEQUENCE (a change the family gets a new file for); the new value."""
    conn.execute("UPDATE signup_bookings SET calendar_sequence = calendar_sequence + 1, updated_at = ?"
                 " WHERE id = ?", (now, booking_id))
    return conn.execute("SELECT calendar_sequence FROM signup_bookings WHERE id = ?", (booking_id,)).fetchone()[0]
