"""The staff side of sign-ups, channel-neutral: what `/homeroom signups` (Slack) and
`homeroom signups` (CLI) show, the CSV export, and the two kinds of staff notice.

- **List**: each opportunity with its shifts (confirmed/capacity, waitlisted) and each teacher
  with booked/total slots (`list_lines`).
- **Who**: the people on one opportunity or one teacher's slots, with times in the school's time
  zone, language, and "interpreter: Vietnamese" where the family's language is not the
  teacher's (`who`, `roster_lines`).
- **Export**: the roster as CSV (`export_csv`; UTF-8 with a byte-order mark, so a spreadsheet
  opens names like "Nguyễn" correctly; cells that would run as formulas start with `'`).
- **Alerts**: a booking, cancellation, promotion from the waitlist or a declined seat for an
  event that starts within 24 hours is written as one outbox row for staff (`alert`, called by
  `bot.signups.booking` inside the booking's own transaction) — a change that late needs a
  person to notice today, not in tomorrow's digest.
- **Daily digest**: once a day at `[slack] digest_time` (school time), one outbox row with, per
  opportunity/teacher that changed, the new sign-ups, cancellations and promotions since the
  last digest and the current fill (`digest_once`, `digest_loop`). Each date is marked in
  `processed_events` in the same transaction as its row, so a restart never sends it twice; the
  marker's time is where the next digest's "since" starts.

Both notices go to outbox channel "staff", target "signups". An alert's payload carries the
family id, so `/forgetme` deletes the alerts that name the family (`bot.privacy.family_data`);
a digest names several families and goes with the outbox's retention like any sent message.
The Slack sender posts them to the signups channel. Runners without Slack (terminal, Telegram
alone) register a "staff" sender that marks staff rows done without sending (staff there use
`homeroom signups`), so alert rows are never stuck; the digest loop runs only with Slack.

Text here is English (staff read it) and plain: a channel escapes it for its own markup.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import csv_safe
from bot.config import SchoolProfile
from bot.core.messages import utcnow
from bot.outbox_messages import DigestCount, SignupsAlert, SignupsDigest
from bot.signups import store
from bot.signups.text import english_language, when
from bot.storage import Database, audit, outbox
from bot.periodic import every

log = logging.getLogger("bot.signups.staff")

STAFF_CHANNEL = "staff"          # the outbox channel staff notices use (as bot.handoff.STAFF_CHANNEL)
TARGET = "signups"               # their outbox target: in order among themselves, apart from tickets
ALERT_WINDOW = timedelta(hours=24)
DIGEST_SOURCE = "signups-digest"  # processed_events source; event_id = the school-local date
DEFAULT_DIGEST_TIME = time(16, 0)
EXPORT_COLUMNS = ["kind", "id", "title", "date", "start", "end", "place", "name", "language", "interpreter",
                  "status", "position", "booked_at", "child", "class"]  # name: who signed up (the guardian)


# -- list ---------------------------------------------------------------------------------------

def list_lines(opportunities, teachers) -> list[str]:
    """`store.summary`'s answer as lines: opportunities with their shifts, then teachers."""
    if not opportunities and not teachers:
        return ["no sign-ups are defined"]
    lines = ["Volunteer opportunities"] if opportunities else []
    for opp, shifts in opportunities:
        lines.append(f"  {opp.id}  {opp.title}" + (f" — {opp.location}" if opp.location else ""))
        for s in shifts:
            waiting = f", {s.waitlisted} waiting" if s.waitlisted else ""
            lines.append(f"    {s.starts_at:%a %Y-%m-%d %H:%M}–{s.ends_at:%H:%M}  "
                         f"{s.confirmed}/{s.capacity} signed up{waiting}")
    if teachers:
        lines.append("Conferences")
    for teacher, booked, total in teachers:
        lines.append(f"  {teacher.id}  {teacher.name} ({teacher.class_name}, {teacher.place}) — speaks "
                     f"{', '.join(teacher.languages)} — {booked}/{total} slots booked")
    return lines


def list_text(conn: sqlite3.Connection) -> str:
    return "\n".join(list_lines(*store.summary(conn)))


# -- who, export --------------------------------------------------------------------------------

def interpreter(item: store.Item) -> str:
    """The language an interpreter is needed for ('Vietnamese'), or ''. Conferences only: the
    teacher's languages are known; a volunteer shift has no one language."""
    b = item.booking
    if b.kind == "conference" and b.language not in item.teacher_languages:
        return english_language(b.language)
    return ""


def scope_of(item: store.Item) -> str:
    """The opportunity id or teacher id an item belongs to."""
    return item.opportunity_id or item.booking.teacher_id or ""


def export_row(item: store.Item, tz: ZoneInfo | None = None) -> dict[str, str]:
    b = item.booking
    start, end = _local(item.starts_at, tz), _local(item.ends_at, tz)
    return {"kind": b.kind, "id": scope_of(item), "title": item.title,
            "date": f"{start:%Y-%m-%d}", "start": f"{start:%H:%M}", "end": f"{end:%H:%M}",
            "place": item.place, "name": b.name, "language": b.language, "interpreter": interpreter(item),
            "status": b.status, "position": str(b.position or ""), "booked_at": b.created_at,
            "child": b.child_name or "", "class": b.child_class or ""}


def write_csv(items: Iterable[store.Item], out, tz: ZoneInfo | None = None) -> None:
    """The roster as CSV; names and titles come from families and staff, so every cell is
    formula-safe (`bot.csv_safe`)."""
    writer = csv_safe.DictWriter(out, EXPORT_COLUMNS)
    writer.writeheader()
    for item in items:
        writer.writerow(export_row(item, tz))


def roster(conn: sqlite3.Connection, scope: str | None = None) -> list[store.Item]:
    """Active bookings (confirmed and waitlisted), all or of one opportunity/teacher id."""
    return [i for i in store.roster(conn) if scope is None or scope_of(i) == scope]


def export_csv(conn: sqlite3.Connection, scope: str | None = None, tz: ZoneInfo | None = None) -> bytes:
    """The roster (all, or one opportunity/teacher) as CSV bytes, UTF-8 with a BOM for spreadsheets."""
    out = io.StringIO()
    write_csv(roster(conn, scope), out, tz)
    return out.getvalue().encode("utf-8-sig")


def roster_lines(items: list[store.Item], tz: ZoneInfo | None = None) -> list[str]:
    """Who signed up, grouped by shift/slot: status, name, language, interpreter."""
    if not items:
        return ["nobody has signed up yet"]
    lines, heading = [], None
    for item in items:
        row = export_row(item, tz)
        this = (row["kind"], row["title"], row["date"], row["start"])
        if this != heading:
            heading = this
            lines.append(f"{row['title']} — {_local(item.starts_at, tz):%a %Y-%m-%d %H:%M}–{row['end']}"
                         + (f" ({row['place']})" if row["place"] else ""))
        status = f"waitlist #{row['position']}" if row["status"] == "waitlisted" else row["status"]
        flag = f"  interpreter: {row['interpreter']}" if row["interpreter"] else ""
        lines.append(f"  {status:12} {item.booking.who}  [{row['language']}]{flag}")
    return lines


@dataclass(slots=True)
class Who:
    """One opportunity or teacher and the people signed up for it."""

    id: str
    kind: str        # "volunteer" or "conference"
    title: str
    items: list[store.Item]


def who(conn: sqlite3.Connection, scope: str) -> list[Who]:
    """The opportunity and/or teacher with id `scope` (ids of the two kinds may coincide),
    with their active bookings; [] when neither exists."""
    found = []
    items = roster(conn, scope)
    opp = store.get_opportunity(conn, scope)
    if opp is not None:
        found.append(Who(opp.id, "volunteer", opp.title, [i for i in items if i.booking.kind == "volunteer"]))
    teacher = store.get_teacher(conn, scope)
    if teacher is not None:
        found.append(Who(teacher.id, "conference", f"Conferences with {teacher.name}, {teacher.class_name}",
                         [i for i in items if i.booking.kind == "conference"]))
    return found


def who_text(found: list[Who], tz: ZoneInfo | None = None) -> str:
    parts = []
    for entry in found:
        count = sum(i.booking.status == "confirmed" for i in entry.items)
        waiting = sum(i.booking.status == "waitlisted" for i in entry.items)
        head = f"{entry.title} ({entry.id}): {count} confirmed" + (f", {waiting} waitlisted" if waiting else "")
        parts.append("\n".join([head, *roster_lines(entry.items, tz)]))
    return "\n\n".join(parts)


# -- alerts for changes close to the event --------------------------------------------------------

_PHRASES = {
    ("volunteer", "booked"): "{name} signed up for {title}, {when}",
    ("volunteer", "waitlisted"): "{name} joined the waitlist (#{position}) for {title}, {when}",
    ("volunteer", "cancelled"): "{name} cancelled {title}, {when}",
    ("volunteer", "promoted"): "{name} moved up from the waitlist to {title}, {when}",
    ("volunteer", "left_waitlist"): "{name} left the waitlist for {title}, {when}",
    ("volunteer", "declined"): "{name} gave up the seat they had moved up to: {title}, {when}",
    ("conference", "booked"): "{name} booked a conference with {title}, {when}",
    ("conference", "cancelled"): "{name} cancelled their conference with {title}, {when}",
    ("conference", "rescheduled"): "{name} moved their conference with {title} away from {when}",
}


def alert(conn: sqlite3.Connection, booking_id: int, event: str, now: str,
          window: timedelta = ALERT_WINDOW) -> int | None:
    """Write a staff alert (outbox row) when the booking's event starts within `window` of
    `now`; returns the row id, or None when the event is further away (or past). Call it
    inside the transaction that made the change: the row commits, or rolls back, with it.

    `event`: booked, waitlisted, cancelled, left_waitlist, promoted, declined (a family that
    moved up from the waitlist gave the seat up, by the Decline button or a later cancel),
    rescheduled (a conference moved away from this slot)."""
    item = store.item(conn, booking_id)
    if item is None:
        return None
    start = store.iso(item.starts_at)
    if not now < start <= store.iso(datetime.fromisoformat(now) + window):
        return None
    b = item.booking
    phrase = _PHRASES.get((b.kind, event)) or "{name}: " + event + " — {title}, {when}"
    text = "Within 24 hours: " + phrase.format(name=b.who, title=item.title, position=b.position or "?",
                                               when=when(item.starts_at, item.ends_at, "en"))
    fill = ""
    if b.kind == "volunteer" and b.shift_id is not None:
        shift = store.get_shift(conn, b.shift_id)
        if shift is not None:
            fill = f"now {shift.confirmed}/{shift.capacity} signed up" + \
                (f", {shift.waitlisted} waiting" if shift.waitlisted else "")
    needs = interpreter(item)
    details = [english_language(b.language)] + ([f"interpreter: {needs}"] if needs else [])
    text += f" ({'; '.join(details)})" + (f" — {fill}" if fill else "") + "."
    if item.place:
        text += f" Place: {item.place}."
    return outbox.add(conn, STAFF_CHANNEL, TARGET,
                      SignupsAlert(text, event, b.id, b.family_id, b.kind, scope_of(item), item.title, b.name,
                                   b.language, needs, start), now)


# -- the daily digest ------------------------------------------------------------------------------

@dataclass(slots=True)
class DigestSection:
    """What changed on one opportunity or teacher since the last digest, and how full it is."""

    kind: str
    id: str
    title: str
    new: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    fill: list[str] = field(default_factory=list)


def digest(conn: sqlite3.Connection, since: str, now: str, tz: ZoneInfo) -> list[DigestSection]:
    """The sections for changes in (since, now], in the order staff see the list."""
    rows = conn.execute(
        store._ITEM_SQL + " WHERE (b.created_at > ? AND b.created_at <= ?) OR (b.cancelled_at > ? AND"
        " b.cancelled_at <= ?) OR (b.promoted_at > ? AND b.promoted_at <= ?)"
        " ORDER BY COALESCE(s.starts_at, c.starts_at), b.id", (since, now) * 3).fetchall()
    changed: dict[tuple[str, str], list[store.Item]] = {}
    for row in rows:
        item = store._item(row)
        changed.setdefault((item.booking.kind, scope_of(item)), []).append(item)
    if not changed:
        return []
    opportunities, teachers = store.summary(conn)
    order: list[tuple[str, str, str, list[str]]] = []
    for opp, shifts in opportunities:
        fill = [f"{when(s.starts_at.astimezone(tz), s.ends_at.astimezone(tz), 'en')}: {s.confirmed}/{s.capacity}"
                + (f", {s.waitlisted} waiting" if s.waitlisted else "")
                for s in shifts if store.iso(s.starts_at) > now]
        order.append(("volunteer", opp.id, opp.title, fill))
    for teacher, booked, total in teachers:
        order.append(("conference", teacher.id, f"Conferences with {teacher.name}",
                      [f"{booked}/{total} slots booked"]))
    known = {(k, i) for k, i, _, _ in order}
    for kind, scope in changed:  # no longer offered, but it changed: still tell staff
        if (kind, scope) not in known:
            items = changed[(kind, scope)]
            order.append((kind, scope, items[0].title, []))
    sections = []
    for kind, scope, title, fill in order:
        items = changed.get((kind, scope))
        if not items:
            continue
        section = DigestSection(kind, scope, title, fill=fill)
        for item in items:
            b = item.booking
            label = _digest_label(item, tz)
            if since < b.created_at <= now:
                status = {"waitlisted": f" (waitlist #{b.position})", "cancelled": " (cancelled since)"}.get(
                    b.status, "")
                section.new.append(label + status)
            if b.cancelled_at and since < b.cancelled_at <= now:
                section.cancelled.append(label)
            if b.promoted_at and since < b.promoted_at <= now:
                section.promoted.append(label)
        sections.append(section)
    return sections


def _digest_label(item: store.Item, tz: ZoneInfo) -> str:
    b = item.booking
    extra = [english_language(b.language)]
    if interpreter(item):
        extra.append(f"interpreter: {interpreter(item)}")
    return f"{b.who} — {when(item.starts_at.astimezone(tz), item.ends_at.astimezone(tz), 'en')} ({'; '.join(extra)})"


def digest_text(sections: list[DigestSection], day: str) -> str:
    lines = [f"Sign-ups digest for {day}: changes since the last digest"]
    for section in sections:
        lines.append("")
        lines.append(f"{section.title} ({section.id})")
        for label, names in (("New", section.new), ("Cancelled", section.cancelled),
                             ("Moved up from the waitlist", section.promoted)):
            lines.extend(f"  {label}: {name}" for name in names)
        if section.fill:
            lines.append("  Now: " + "; ".join(section.fill))
    return "\n".join(lines)


def write_digest(conn: sqlite3.Connection, day: str, now: str, tz: ZoneInfo) -> int | None:
    """The digest for school-local date `day`, once: marks the date in `processed_events` and
    writes one outbox row when something changed. Returns the row id, or None (already done, or
    nothing changed — the date is marked either way)."""
    last = conn.execute("SELECT MAX(processed_at) FROM processed_events WHERE source = ?",
                        (DIGEST_SOURCE,)).fetchone()[0]
    if not audit.first_time(conn, DIGEST_SOURCE, day, now):
        return None
    since = last or store.iso(datetime.fromisoformat(now) - timedelta(days=1))
    sections = digest(conn, since, now, tz)
    if not sections:
        return None
    counts = tuple(DigestCount(s.kind, s.id, len(s.new), len(s.cancelled), len(s.promoted)) for s in sections)
    return outbox.add(conn, STAFF_CHANNEL, TARGET, SignupsDigest(digest_text(sections, day), day, since, counts), now)


def digest_time(profile: SchoolProfile) -> time:
    return profile.slack.digest_time if profile.slack is not None else DEFAULT_DIGEST_TIME


async def digest_once(db: Database, profile: SchoolProfile, now: datetime) -> int | None:
    """Write today's digest if its time has come (school time) and it was not written yet."""
    local = now.astimezone(profile.tz)
    if local.time() < digest_time(profile):
        return None
    row = await db.transact(write_digest, local.date().isoformat(), store.iso(now), profile.tz)
    if row is not None:
        log.info("signups.digest day=%s", local.date().isoformat())
    return row


async def digest_loop(db: Database, profile: SchoolProfile, stop: asyncio.Event,
                      on_written: Callable[[], None] | None = None, clock: Callable[[], datetime] = utcnow,
                      interval: float = 60.0) -> None:
    """Check for the daily digest every `interval` seconds until `stop` (e.g. `on_written=Delivery.wake`)."""
    async def job() -> None:
        if await digest_once(db, profile, clock()) is not None and on_written is not None:
            on_written()
    await every(interval, stop, job, "signups.digest")


def _local(moment: datetime, tz: ZoneInfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment
