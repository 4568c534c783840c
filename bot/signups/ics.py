"""Calendar files (.ics, RFC 5545) for a booking, made with the `icalendar` package.

One VCALENDAR with one VEVENT: UID (one per booking, kept when the booking is moved — see
`store.Booking.uid` — so a calendar app updates the event rather than adding a second one),
SEQUENCE (stored on the booking and raised on each change, so the newer file wins), DTSTAMP,
ORGANIZER (the school), DTSTART/DTEND with the school's TZID plus the matching VTIMEZONE
(limited to the year around the event, so the file stays small), SUMMARY, LOCATION,
DESCRIPTION. A cancelled booking gets `METHOD:CANCEL` with `STATUS:CANCELLED`, the same UID
and a higher SEQUENCE (RFC 5546 §3.2.5), so the app removes the event. icalendar writes CRLF
line endings and folds lines at 75 octets, as the RFC requires.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from bot.core.messages import Attachment

PRODID = "-//Homeroom//Sign-ups//EN"


def calendar(uid: str, start: datetime, end: datetime, summary: str, location: str, description: str,
             stamp: datetime, url: str | None = None, sequence: int = 0, cancelled: bool = False,
             organizer: tuple[str, str] | None = None) -> bytes:
    """The .ics bytes for one event. `start`/`end` are aware datetimes in the school's zone;
    `organizer` is (name, email) — RFC 5546 wants one in a PUBLISH and a CANCEL."""
    if not isinstance(start.tzinfo, ZoneInfo):  # a fixed offset has no TZID: write UTC times
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    tzinfo = start.tzinfo
    tzid = tzinfo.key if isinstance(tzinfo, ZoneInfo) else "UTC"
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(timezone.utc).replace(microsecond=0))
    if organizer is not None:
        name, email = organizer
        event.add("organizer", vCalAddress(f"mailto:{email}"), parameters={"CN": name} if name else None)
    if cancelled:
        event.add("status", "CANCELLED")
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    cal.add_component(event)
    content = cal.to_ical()
    if tzid == "UTC":
        return content
    # the VTIMEZONE goes before the event (it is the same for every file of a year: made once)
    marker = b"BEGIN:VEVENT\r\n"
    return content.replace(marker, _vtimezone(tzid, start.year, end.year) + marker, 1)


@lru_cache(maxsize=32)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    first = date(first_year, 1, 1) - timedelta(days=1)
    last = date(last_year + 1, 1, 1)
    return Timezone.from_tzinfo(ZoneInfo(tzid), tzid=tzid, first_date=first, last_date=last).to_ical()


def attachment(filename: str, content: bytes) -> Attachment:
    return Attachment(filename, content, "text/calendar")


def organizer(profile, uid_domain: str) -> tuple[str, str]:
    """The school as the events' ORGANIZER: its name and office email (or a no-reply address)."""
    info = profile.info
    return str(info.get("school_name", "")), str(info.get("office_email") or f"no-reply@{uid_domain}")
