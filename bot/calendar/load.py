"""Read the school's calendar (.ics) into what each day is: closed, early release, events.

The school gives `[calendar] source` in its profile: a path (relative to the profile) or an
https URL of the calendar it already publishes. A URL is fetched at start-up and on
`homeroom reload`; the last copy that parsed is kept in the data directory and used when the
school's server cannot be reached, so the bot never loses its calendar to a network hiccup.
icalendar parses the file; recurring-ical-events expands repeating events (RRULE, RDATE,
EXDATE, moved occurrences) so a weekly early release is found on the right Wednesdays.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from bot.config import ConfigError

log = logging.getLogger("bot.calendar")

CLOSED, EARLY, EVENT = "closed", "early_release", "event"
# How an event says what it is: its CATEGORIES first, else words in its SUMMARY (folded).
_CLOSED_WORDS = ("holiday", "no school", "break", "closed", "closure", "vacation", "recess", "day off",
                 "non-student day", "teacher work day", "staff development")
_EARLY_WORDS = ("early release", "early dismissal", "minimum day", "half day", "short day")
CACHE_NAME = "calendar-cache.ics"
FETCH_TIMEOUT = 20.0


class CalendarError(ConfigError):
    """The calendar could not be read: the message says which file or URL and why."""


@dataclass(frozen=True)
class DayEvent:
    summary: str              # as the school wrote it (English): the reply renders it as staff text
    kind: str                 # CLOSED | EARLY | EVENT
    first: date               # the whole event's first and last day (a break spans many)
    last: date
    starts: datetime | None = None   # a timed event's start (school time); None: all day
    first_day: bool = False   # the first / last day of the school year
    last_day: bool = False


class SchoolCalendar:
    """What the calendar says about a day. Built once per load; read-only afterwards."""

    def __init__(self, cal: icalendar.Calendar, tz: ZoneInfo, where: str = "") -> None:
        self.tz, self.where = tz, where
        self.note = ""  # e.g. the saved copy is in use: the school's server could not be reached
        self._cal = cal
        self._query = recurring_ical_events.of(cal)
        self._days: dict[date, tuple[DayEvent, ...]] = {}
        starts = [e for e in cal.walk("VEVENT") if _flags(e)[0]]
        ends = [e for e in cal.walk("VEVENT") if _flags(e)[1]]
        self.year_start = min((_day(e["DTSTART"].dt, tz) for e in starts), default=None)
        self.year_end = max((_day(e["DTSTART"].dt, tz) for e in ends), default=None)

    @property
    def event_count(self) -> int:
        """Events as the file has them (a weekly early release is one)."""
        return len(self._cal.walk("VEVENT"))

    def span(self) -> tuple[date | None, date | None]:
        """The first and last day an event covers (a repeating one by its first occurrence and
        its UNTIL, when it has one), for `homeroom status`."""
        days: list[date] = []
        for component in self._cal.walk("VEVENT"):
            event = self._event(component)
            days += [event.first, event.last]
            until = (component.get("RRULE") or {}).get("UNTIL")
            if until:
                days.append(_day(until[0], self.tz))
        return (min(days), max(days)) if days else (None, None)

    def summaries(self) -> list[str]:
        """Every event name, once each (for `homeroom locales extract`: curated translations)."""
        return list(dict.fromkeys(str(e.get("SUMMARY", "")).strip() for e in self._cal.walk("VEVENT")
                                  if str(e.get("SUMMARY", "")).strip()))

    def on(self, day: date) -> tuple[DayEvent, ...]:
        """The events on `day`, closures first, then early releases, then the rest."""
        if day not in self._days:
            found = [self._event(e) for e in self._query.at(day)]
            order = {CLOSED: 0, EARLY: 1, EVENT: 2}
            self._days[day] = tuple(sorted(found, key=lambda e: (order[e.kind], e.starts is not None,
                                                                 e.starts or datetime.min, e.summary)))
        return self._days[day]

    def _event(self, component) -> DayEvent:
        start = component["DTSTART"].dt
        end = component.get("DTEND")
        first = _day(start, self.tz)
        last = first
        if end is not None:
            end_dt = end.dt
            # an all-day DTEND is exclusive; a timed one is the moment it ends
            last = (end_dt - timedelta(days=1)) if not isinstance(end_dt, datetime) else _day(end_dt, self.tz)
            last = max(first, last)
        is_first, is_last = _flags(component)
        timed = start.astimezone(self.tz) if isinstance(start, datetime) and start.tzinfo else \
            (start if isinstance(start, datetime) else None)
        return DayEvent(str(component.get("SUMMARY", "")).strip(), _kind(component), first, last, timed,
                        is_first, is_last)


def _day(value: date | datetime, tz: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(tz) if value.tzinfo else value).date()
    return value


def _words(component) -> tuple[list[str], str]:
    cats = component.get("CATEGORIES")
    found: list[str] = []
    for item in (cats if isinstance(cats, list) else [cats] if cats is not None else []):
        found += [str(c).strip().lower() for c in getattr(item, "cats", [item])]
    return found, str(component.get("SUMMARY", "")).lower()


def _flags(component) -> tuple[bool, bool]:
    cats, summary = _words(component)
    first = "first day" in cats or "first day of school" in summary
    last = "last day" in cats or "last day of school" in summary
    return first, last


def _kind(component) -> str:
    cats, summary = _words(component)
    for words in (cats, [summary]):
        if any(w in text for text in words for w in _EARLY_WORDS):
            return EARLY
        if any(w in text for text in words for w in _CLOSED_WORDS):
            return CLOSED
        if words is cats and cats:
            return EVENT
    return EVENT


def parse(data: bytes | str, tz: ZoneInfo, where: str = "") -> SchoolCalendar:
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarError(f"{where}: not an iCalendar file ({exc})") from None
    return SchoolCalendar(cal, tz, where)


def load_calendar(source: str, profile_dir: Path, data_dir: Path, tz: ZoneInfo) -> SchoolCalendar:
    """The calendar from a file or an https URL (with the last good copy as a fallback)."""
    if source.startswith(("https://", "http://")):
        return _from_url(source, Path(data_dir) / CACHE_NAME, tz)
    path = Path(source).expanduser()
    path = path if path.is_absolute() else Path(profile_dir) / path
    try:
        return parse(path.read_bytes(), tz, str(path))
    except OSError as exc:
        raise CalendarError(f"[calendar] source = {source!r}: {path} cannot be read ({exc.strerror})") from None


def _from_url(url: str, cache: Path, tz: ZoneInfo) -> SchoolCalendar:
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "Homeroom school calendar"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 (the school's URL)
            data = response.read()
        calendar = parse(data, tz, url)
    except Exception as exc:  # the school's server is down, or sent something else: keep the last copy
        if cache.is_file():
            log.warning("calendar.fetch_failed url=%s error=%s using=%s", url, exc.__class__.__name__, cache)
            saved = parse(cache.read_bytes(), tz, str(cache))
            saved.note = f"the saved copy {cache} is in use: the URL could not be fetched ({exc.__class__.__name__})"
            return saved
        raise CalendarError(f"[calendar] source = {url!r}: could not be fetched ({exc}) and there is no "
                            f"saved copy at {cache} yet") from None
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, cache)
    log.info("calendar.fetched url=%s bytes=%d", url, len(data))
    return calendar
