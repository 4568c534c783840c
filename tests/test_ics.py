"""Calendar files that stay right (RFC 5546): one UID per booking across moves, a SEQUENCE
that rises with each change, METHOD:CANCEL on a cancel or a declined seat, and the file on a
promotion from the waitlist. Each file is parsed back here by a small reader of the text
format (unfolded lines, BEGIN/END components), so the test does not trust the writer's library."""

from __future__ import annotations

import base64
import re
from datetime import datetime

from bot.outbox_messages import FamilyMessage
from support import Parent
from test_signups import LA, pending_messages, rows, sample, small, to_confirm  # noqa: F401 (fixtures)


def parse_ics(data: bytes) -> dict:
    """{'METHOD': …, 'VEVENT': [{'UID': (value, params), …}]} from .ics bytes (RFC 5545 §3.1)."""
    text = data.decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), "lines must end with CRLF"
    lines = re.sub(r"\r\n[ \t]", "", text).split("\r\n")
    top: dict = {"VEVENT": []}
    stack: list[tuple[str, dict]] = []
    for line in filter(None, lines):
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        params = {k: v.strip('"') for k, v in (p.split("=", 1) for p in raw_params)}
        if name == "BEGIN":
            stack.append((value, {}))
        elif name == "END":
            kind, props = stack.pop()
            assert kind == value
            if kind == "VEVENT":
                top["VEVENT"].append(props)
        elif stack and stack[-1][0] == "VCALENDAR":
            top[name] = value
        elif stack:
            stack[-1][1][name] = (value, params)
    assert not stack
    return top


def event_of(reply) -> tuple[str, dict]:
    assert reply.attachment is not None and reply.attachment.mime_type == "text/calendar"
    cal = parse_ics(reply.attachment.content)
    [event] = cal["VEVENT"]
    return cal["METHOD"], event


def value(event: dict, name: str) -> str:
    return event[name][0]


async def test_a_moved_shift_keeps_its_uid_and_a_cancel_removes_it(small):
    p = Parent(small, "p1", "Ana Ruiz")
    await to_confirm(p, "tiny", "9:00 AM")
    await p.tap(p.button("volunteer:confirm:"))
    method, first = event_of(p.replies[-1])
    uid = value(first, "UID")
    assert method == "PUBLISH" and value(first, "SEQUENCE") == "0"
    assert value(first, "ORGANIZER").startswith("mailto:") and value(first, "DTSTART") == "20261210T090000"
    assert first["DTSTART"][1] == {"TZID": "America/Los_Angeles"}

    # change it to the 10:00 shift: the same event, moved (a newer SEQUENCE)
    [(booking_id,)] = await rows(small, "SELECT id FROM signup_bookings")
    await p.tap(f"mysignups:change:{booking_id}")
    await p.tap(p.button("volunteer:shift:", "10:00 AM –"))
    if "volunteer:name" in p.payloads():
        await p.tap("volunteer:name")
    await p.tap(p.button("volunteer:confirm:"))
    method, moved = event_of(p.replies[-1])
    assert method == "PUBLISH" and value(moved, "UID") == uid and value(moved, "SEQUENCE") == "1"
    assert value(moved, "DTSTART") == "20261210T100000"

    # cancel it: METHOD:CANCEL, the same UID, STATUS:CANCELLED, a higher SEQUENCE
    [(new_id,)] = await rows(small, "SELECT id FROM signup_bookings WHERE status = 'confirmed'")
    await p.tap(f"mysignups:ask:{new_id}")
    await p.tap(f"mysignups:cancel:{new_id}")
    assert "is cancelled" in p.text
    assert "Open the attached calendar file to take it off your calendar." in p.text  # says what the file is for
    method, cancel = event_of(p.replies[-1])
    assert method == "CANCEL" and value(cancel, "STATUS") == "CANCELLED"
    assert value(cancel, "UID") == uid and int(value(cancel, "SEQUENCE")) > 1
    assert value(cancel, "DTSTART") == "20261210T100000" and "ORGANIZER" in cancel
    assert p.replies[-1].attachment.filename == "volunteer-2026-12-10-cancelled.ics"
    # the sequence is stored: it is what the next file would start from
    assert await rows(small, "SELECT calendar_sequence FROM signup_bookings WHERE id = ?", new_id) == [(2,)]


async def test_a_moved_conference_keeps_its_uid_and_a_cancel_removes_it(sample):
    p = Parent(sample, "p1", "Maria Lopez")
    await p.say("/conference rivera")
    await p.say("Sofia Lopez")
    await p.tap("conference:d:2027-01-12")
    await p.tap(p.button("conference:s:", "1:00 PM"))
    await p.tap(p.button("conference:confirm:"))
    _, first = event_of(p.replies[-1])
    uid = value(first, "UID")
    assert uid.endswith("@maplegrove.example.org") and value(first, "SEQUENCE") == "0"
    assert "Sofia Lopez" in value(first, "DESCRIPTION")

    await p.say("/conference rivera")
    await p.tap("conference:resched")
    await p.tap("conference:d:2027-01-13")
    await p.tap(p.button("conference:s:", "2:10 PM"))
    await p.tap(p.button("conference:confirm:"))
    assert "has been moved" in p.text
    method, moved = event_of(p.replies[-1])
    assert (method, value(moved, "UID"), value(moved, "SEQUENCE")) == ("PUBLISH", uid, "1")
    assert value(moved, "DTSTART") == "20270113T141000"

    [(booking_id,)] = await rows(sample, "SELECT id FROM signup_bookings WHERE status = 'confirmed'")
    await p.tap(f"mysignups:cancel:{booking_id}")
    method, cancel = event_of(p.replies[-1])
    assert (method, value(cancel, "STATUS"), value(cancel, "UID")) == ("CANCEL", "CANCELLED", uid)
    assert int(value(cancel, "SEQUENCE")) == 2 and value(cancel, "DTSTART") == "20270113T141000"
    assert "Mr. Carlos Rivera" in value(cancel, "SUMMARY")


async def test_a_promotion_from_the_waitlist_sends_the_file_and_a_decline_cancels_it(small):
    ana, ben = Parent(small, "ana", "Ana"), Parent(small, "ben", "Ben")
    await to_confirm(ana, "tiny", "9:00 AM")
    await ana.tap(ana.button("volunteer:confirm:"))
    await to_confirm(ben, "tiny", "9:00")
    await ben.tap(ben.button("volunteer:confirm:"))
    assert ben.replies[-1].attachment is None  # a waitlist place is not in the calendar yet
    [(ana_id,), (ben_id,)] = await rows(small, "SELECT id FROM signup_bookings ORDER BY id")
    await ana.tap(f"mysignups:cancel:{ana_id}")

    [(channel, target, payload)] = await pending_messages(small)
    assert (channel, target) == ("test", "ben")
    raw = payload["attachment"]
    assert raw["filename"] == "volunteer-2026-12-10.ics" and raw["mime_type"] == "text/calendar"
    # what the channel sends for the row carries the file
    out = FamilyMessage.from_payload(payload).outgoing("test", "ben")
    assert out.attachment is not None and out.attachment.content == base64.b64decode(raw["content_b64"])
    method, event = event_of(out)
    assert method == "PUBLISH" and value(event, "UID") == f"homeroom-booking-{ben_id}@maplegrove.example.org"
    assert value(event, "SEQUENCE") == "1" and value(event, "DTSTART") == "20261210T090000"
    assert value(event, "SUMMARY") == "Tiny shift"

    # Ben declines the seat: his reply removes the event again
    await ben.tap(payload["choices"][0]["payload"])
    method, cancel = event_of(ben.replies[-1])
    assert (method, value(cancel, "UID"), value(cancel, "STATUS")) == ("CANCEL", value(event, "UID"), "CANCELLED")
    assert int(value(cancel, "SEQUENCE")) == 2


def test_the_writer_folds_long_lines_and_escapes_text():
    from bot.signups import ics

    start = datetime(2027, 1, 12, 13, 0, tzinfo=LA)
    long = "Ms. Linh Tran, " * 10 + "a; b, c"
    data = ics.calendar("u-1@example.org", start, start.replace(minute=20), long, "Room 8", "Line 1\nLine 2",
                        start, sequence=3, cancelled=True, organizer=("Maple Grove", "office@example.org"))
    assert all(len(line.encode()) <= 75 for line in data.decode().split("\r\n"))
    cal = parse_ics(data)
    [event] = cal["VEVENT"]
    assert cal["METHOD"] == "CANCEL" and value(event, "SEQUENCE") == "3"
    assert value(event, "SUMMARY").replace("\\,", ",").replace("\\;", ";") == long
    assert value(event, "DESCRIPTION") == "Line 1\\nLine 2"
    assert event["ORGANIZER"] == ("mailto:office@example.org", {"CN": "Maple Grove"})


async def test_a_calendar_file_sent_through_the_outbox_reaches_a_telegram_family(tmp_path):
    """A promotion's message is an outbox row (`booking.send`); the Telegram channel's outbox
    sender sends its text and then its calendar file as a document."""
    import asyncio

    from bot.app import start
    from bot.channels.telegram.channel import build_channel, register_outbox
    from bot.config import Settings
    from bot.core.messages import utcnow
    from bot.i18n import Locales
    from bot.signups import booking, ics, store
    from bot.storage import families
    from fakes.telegram_api import FakeBotAPI

    async with FakeBotAPI() as fake:
        settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "TELEGRAM_BOT_TOKEN": fake.token,
                                      "TELEGRAM_API_BASE_URL": fake.base_url,
                                      "TELEGRAM_API_FILE_URL": fake.base_file_url})
        homeroom = await start(settings)
        locales = Locales(settings.locales_dir)
        channel = build_channel(settings, homeroom)
        await channel.start()
        try:
            register_outbox(homeroom, channel)
            fake.push_update(fake.message_update("/start", chat_id=4242, user_id=4242))
            await fake.wait_for("sendMessage", count=1)
            start_at = datetime(2026, 12, 10, 9, 0, tzinfo=LA)
            content = ics.calendar("homeroom-booking-7@maplegrove.example.org", start_at, start_at.replace(hour=10),
                                   "Tiny shift", "Room 1", "", start_at, sequence=1)
            file = ics.attachment("volunteer-2026-12-10.ics", content)

            def write(conn):
                [family] = [families.get(conn, r[0]) for r in conn.execute("SELECT id FROM families")]
                return booking.send(conn, locales, family, "en", booking.PROMOTED,
                                    {"title": "Tiny shift", "when": "Thu, Dec 10", "place": "Room 1"}, [],
                                    store.iso(utcnow()), "signup_promoted", attachment=file)
            await homeroom.db.transact(write)
            for _ in range(100):
                await homeroom.delivery.run_once()
                if any("document" in m for m in fake.sent(4242)):
                    break
                await asyncio.sleep(0.05)
            [document] = [m for m in fake.sent(4242) if "document" in m]
            assert document["document"].filename == "volunteer-2026-12-10.ics"
            [event] = parse_ics(document["document"].content)["VEVENT"]
            assert value(event, "UID") == "homeroom-booking-7@maplegrove.example.org"
            assert value(event, "SEQUENCE") == "1"
        finally:
            await channel.stop()
            await homeroom.close()

