"""Reminders the day before a booking, through the outbox (so an undeliverable one is retried,
and they survive restarts).

`due_reminders(conn, now)` lists confirmed bookings whose reminder time has come: the day
before the event, at `hour` o'clock in the time zone the event was defined in (the school's).
Never for cancelled, waitlisted or past items; never twice (`signup_reminders` records each
sent one, in the same transaction as its outbox row); and not for a booking made or promoted
after its reminder time (its confirmation is fresh). `send_reminders` renders each in the
family's language with the localizer — curated, else machine translation (marked), else
English, the staff's title and place in it as `staff` Texts — before the transaction (no model
runs inside one; the record keeps the values as written), then writes them with Cancel and
Still coming buttons. `reminder_loop` runs it periodically until stopped.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.core.payloads import Payload
from bot.core.localize import Localizer, Text
from bot.core.messages import utcnow
from bot.i18n import N_
from bot.signups import booking, store
from bot.signups import text as fmt
from bot.storage import Database, families
from bot.periodic import every

log = logging.getLogger("bot.signups.reminders")

DEFAULT_HOUR = 18
REMIND_VOLUNTEER = N_("Reminder: tomorrow you are signed up for {title}, {when} ({place}). Are you still coming?")
REMIND_CONFERENCE = N_("Reminder: tomorrow you have a parent–teacher conference with {title}, {when} ({place}). "
                       "Are you still coming?")
STILL_COMING = N_("Still coming")
CANCEL = N_("Cancel")


@dataclass(slots=True)
class Due:
    item: store.Item
    family: families.Family
    remind_at: datetime

    @property
    def language(self) -> str:
        return self.family.language or self.item.booking.language


def remind_at(start: datetime, hour: int = DEFAULT_HOUR) -> datetime:
    """The day before `start` (in its own time zone), at `hour`:00."""
    return datetime.combine(start.date() - timedelta(days=1), time(hour), start.tzinfo)


def due_reminders(conn: sqlite3.Connection, now: datetime, hour: int = DEFAULT_HOUR) -> list[Due]:
    stamp = store.iso(now)
    horizon = store.iso(now + timedelta(days=2))
    rows = conn.execute(
        store._ITEM_SQL + " WHERE b.status = 'confirmed'"
        " AND COALESCE(s.starts_at, c.starts_at) > ? AND COALESCE(s.starts_at, c.starts_at) <= ?"
        " AND COALESCE(s.active, c.active) = 1"
        " AND NOT EXISTS (SELECT 1 FROM signup_reminders r WHERE r.booking_id = b.id)"
        " ORDER BY COALESCE(s.starts_at, c.starts_at), b.id", (stamp, horizon)).fetchall()
    out = []
    for row in rows:
        item = store._item(row)
        at = remind_at(item.starts_at, hour)
        made = item.booking.promoted_at or item.booking.created_at
        if at > now or made >= store.iso(at):
            continue
        family = families.get(conn, item.booking.family_id)
        if family is not None:
            out.append(Due(item, family, at))
    return out


async def send_reminders(db: Database, localizer: Localizer, now: datetime, hour: int = DEFAULT_HOUR) -> int:
    """Write the reminders due at `now` to the outbox; returns how many were written."""
    due = await db.run(due_reminders, now, hour)
    if not due:
        return 0
    rendered = []
    for entry in due:
        lang, item = entry.language, entry.item
        msgid = REMIND_CONFERENCE if item.booking.kind == "conference" else REMIND_VOLUNTEER
        values = {"title": item.title, "when": fmt.when(item.starts_at, item.ends_at, lang), "place": item.place}
        staff = {"title": fmt.staff(item.title), "place": fmt.staff(item.place)}
        body, *labels = await localizer.render_all([Text(msgid, {**values, **staff}), Text(CANCEL), Text(STILL_COMING)],
                                                   lang)
        rendered.append((entry, msgid, values, await localizer.marked(body, lang), [label.text for label in labels]))

    def write(conn: sqlite3.Connection, stamp: str) -> int:
        written = 0
        for entry, msgid, values, body_text, labels in rendered:
            booking_id = entry.item.booking.id
            current = store.get_booking(conn, booking_id)
            if current is None or current.status != "confirmed":
                continue  # cancelled while we were rendering
            if conn.execute("INSERT OR IGNORE INTO signup_reminders (booking_id, sent_at) VALUES (?, ?)",
                            (booking_id, stamp)).rowcount == 0:
                continue  # another worker sent it
            choices = [(CANCEL, Payload("mysignups", "cancel", booking_id)), (STILL_COMING, Payload("mysignups", "keep", booking_id))]
            row = booking.send(conn, localizer.locales, entry.family, entry.language, msgid, values, choices, stamp,
                               "signup_reminder", rendered_text=body_text, labels=labels)
            conn.execute("UPDATE signup_reminders SET outbox_id = ? WHERE booking_id = ?", (row, booking_id))
            written += 1
        return written

    written = await db.transact(write, store.iso(now))
    if written:
        log.info("signups.reminders written=%d", written)
    return written


async def reminder_loop(db: Database, localizer: Localizer, stop: asyncio.Event,
                        clock: Callable[[], datetime] = utcnow, hour: int = DEFAULT_HOUR,
                        interval: float = 300.0, on_written: Callable[[], None] | None = None) -> None:
    """Send due reminders every `interval` seconds until `stop` is set (e.g. `on_written=Delivery.wake`)."""
    async def job() -> None:
        if await send_reminders(db, localizer, clock(), hour) and on_written is not None:
            on_written()
    await every(interval, stop, job, "signups.reminders")
