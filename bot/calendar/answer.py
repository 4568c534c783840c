"""Say what a day is at the school: "No — Mon, Jan 18 is Martin Luther King Jr. Day; …".

The engine calls a `CalendarAnswers` for the `school_calendar` and `school_closure` intents
(`Engine(answers=…)`). When the message names a day (`dates.find_date`), the answer is about
that day, in this order: a closure staff announced (`homeroom closure add`), the calendar's
closures (holidays, breaks), the weekend, outside the school year, an early release, a regular
school day — with that day's events. With no day in the message, or nothing known about it,
the catalog's answer stands. Event names are the school's words: curated where the .po files
have them, else machine translated, else as written.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from pathlib import Path

from bot.calendar import closures
from bot.calendar.dates import find_date
from bot.calendar.load import CLOSED, EARLY, CalendarError, SchoolCalendar, load_calendar
from bot.config import SchoolProfile
from bot.core.dialog import Turn
from bot.core.localize import Text, joined
from bot.i18n import N_
from bot.signups import text as fmt
from bot.storage import Database

log = logging.getLogger("bot.calendar")

INTENTS = ("school_calendar", "school_closure")
LOOK_AHEAD = 60  # days searched for the next school day

CLOSURE_TEXT = N_("No — there is no school on {day}: {reason}.")
HOLIDAY_TEXT = N_("No — {day} is {event}.")
BREAK_TEXT = N_("No — {day} is during {event} ({first} to {last}).")
WEEKEND_TEXT = N_("No — {day} is on a weekend.")
BEFORE_YEAR_TEXT = N_("No — the school year starts on {first}.")
AFTER_YEAR_TEXT = N_("No — the school year ended on {last}.")
REOPENS_TEXT = N_("School reopens {next}.")
NEXT_DAY_TEXT = N_("The next school day is {next}.")
EARLY_TEXT = N_("Yes, {day} is a school day, but students go home early ({event}).")
REGULAR_TEXT = N_("Yes, {day} is a regular school day.")
ALSO_TEXT = N_("Also that day: {events}.")


class CalendarAnswers:
    """The hook for the calendar intents; holds the loaded calendar (None: the profile has no
    [calendar], so only announced closures are known) and reloads it on `refresh`."""

    def __init__(self, db: Database, profile: SchoolProfile, data_dir: Path,
                 calendar: SchoolCalendar | None = None) -> None:
        self.db, self.profile, self.data_dir = db, profile, Path(data_dir)
        self.calendar = calendar

    def load(self) -> SchoolCalendar | None:
        """Read the profile's calendar (blocking: a file, or a URL with its saved copy)."""
        source = self.profile.calendar_source
        if source is None:
            return None
        return load_calendar(source, self.profile.path.parent, self.data_dir, self.profile.tz)

    async def refresh(self) -> None:
        """Read the calendar again (`homeroom reload`); a failure keeps the one in use."""
        try:
            self.calendar = await asyncio.to_thread(self.load)
        except Exception as exc:
            log.warning("calendar.reload_failed error=%s", exc)

    def hooks(self) -> dict:
        return {intent: self for intent in INTENTS}

    def claims(self, turn: Turn, text: str) -> bool:
        """The message names a day: its answer is the same whichever calendar intent it is."""
        return find_date(text, turn.now.astimezone(self.profile.tz).date(), turn.lang) is not None

    async def __call__(self, turn: Turn, catalog_answer: Text) -> Text:
        today = turn.now.astimezone(self.profile.tz).date()
        found = find_date(turn.incoming.text or "", today, turn.lang)
        if found is None:
            if turn.intent == "school_closure":  # "snow day?": a closure announced for today comes first
                closure = await self.db.run(closures.on, today)
                if closure is not None:
                    return await self._about(today, turn.lang)
            return catalog_answer
        answer = await self._about(found.day, turn.lang)
        return answer if answer is not None else catalog_answer

    async def _about(self, day: date, lang: str) -> Text | None:
        announced = {c.day: c for c in await self.db.run(closures.between, day, day + timedelta(days=LOOK_AHEAD))}
        cal = self.calendar
        when = lambda d: Text(fmt.day(d, lang), kind="fixed")  # noqa: E731
        if day in announced:
            return self._with_reopening(Text(CLOSURE_TEXT, {"day": when(day),
                                                             "reason": Text(announced[day].reason, kind="free")}),
                                        day, announced, when, REOPENS_TEXT)
        if cal is None:
            return None
        events = cal.on(day)
        closed = next((e for e in events if e.kind == CLOSED), None)
        if closed is not None:
            name = Text(closed.summary, kind="free")
            if closed.first == closed.last:
                first = Text(HOLIDAY_TEXT, {"day": when(day), "event": name})
            else:
                first = Text(BREAK_TEXT, {"day": when(day), "event": name, "first": when(closed.first),
                                          "last": when(closed.last)})
            return self._with_reopening(first, day, announced, when, REOPENS_TEXT)
        if day.weekday() >= 5:
            return self._with_reopening(Text(WEEKEND_TEXT, {"day": when(day)}), day, announced, when,
                                        NEXT_DAY_TEXT)
        if cal.year_start and day < cal.year_start:
            return Text(BEFORE_YEAR_TEXT, {"first": when(cal.year_start)})
        if cal.year_end and day > cal.year_end:
            return Text(AFTER_YEAR_TEXT, {"last": when(cal.year_end)})
        early = next((e for e in events if e.kind == EARLY), None)
        if early is not None:
            first = Text(EARLY_TEXT, {"day": when(day), "event": Text(early.summary, kind="free")})
        else:
            first = Text(REGULAR_TEXT, {"day": when(day)})
        return joined([first, *self._also([e for e in events if e is not early], lang)], sep=" ")

    def _also(self, events, lang: str) -> list[Text]:
        named = []
        for event in events:
            if event.kind == CLOSED:
                continue
            name = Text(event.summary, kind="free")
            if event.starts is not None:
                name = Text("{event} ({time})", {"event": name, "time": fmt.clock(event.starts, lang)}, kind="fixed")
            named.append(name)
        return [Text(ALSO_TEXT, {"events": joined(named, sep="; ")})] if named else []

    def _with_reopening(self, first: Text, day: date, announced: dict, when, then: str) -> Text:
        """`first`, then when school is next open (announced closures and the calendar counted)."""
        parts = [first]
        following = self._next_school_day(day, announced)
        if following is not None:
            parts.append(Text(then, {"next": when(following)}))
        return joined(parts, sep=" ")

    def _next_school_day(self, day: date, announced: dict) -> date | None:
        cal = self.calendar
        for ahead in range(1, LOOK_AHEAD + 1):
            candidate = day + timedelta(days=ahead)
            if candidate.weekday() >= 5 or candidate in announced:
                continue
            if cal is None:
                return candidate
            if cal.year_end and candidate > cal.year_end:
                return None
            if cal.year_start and candidate < cal.year_start:
                continue
            if not any(e.kind == CLOSED for e in cal.on(candidate)):
                return candidate
        return None


async def start_calendar(db: Database, profile: SchoolProfile, data_dir: Path) -> CalendarAnswers:
    """The calendar answers for a starting bot. A calendar that cannot be read (a missing file,
    a school website that is down and no saved copy yet) does not stop the bot: it is logged as
    a warning, date questions get the catalog's answer meanwhile, and announced closures still
    work; `homeroom reload` tries again."""
    answers = CalendarAnswers(db, profile, data_dir)
    try:
        answers.calendar = await asyncio.to_thread(answers.load)
    except CalendarError as exc:
        log.warning("calendar.unavailable error=%r", str(exc))
    return answers
