"""Say what a day is at the school: "No — Mon, Jan 18 is Martin Luther King Jr. Day; …".

The engine calls a `CalendarAnswers` for the `school_calendar` and `school_closure` intents
(`Engine(answers=…)`). When the message names a day (`dates.find_date`), the answer is about
that day, in this order: a closure staff announced (`homeroom closure add`), the calendar's
closures (holidays, breaks), the weekend, outside the school year, an early release, a regular
school day — with that day's events; a day already past ("yesterday") in the past tense. A week
("next week") is answered day by day for its school days; a weekend says there is no school and
what the calendar has on it. With no day in the message, or nothing known about it, the
catalog's answer stands. A "Did you mean" button carries the days asked about (`about`), so the
tap is answered for them. Event names are the school's words: curated where the .po files have
them, else machine translated, else as written.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from pathlib import Path

from bot.calendar import closures
from bot.calendar.dates import Found, find_date
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
# A day already past ("yesterday", "was there school on Monday?")
PAST_CLOSURE_TEXT = N_("No — there was no school on {day}: {reason}.")
PAST_HOLIDAY_TEXT = N_("No — {day} was {event}.")
PAST_BREAK_TEXT = N_("No — {day} was during {event} ({first} to {last}).")
PAST_WEEKEND_TEXT = N_("No — {day} was on a weekend.")
PAST_EARLY_TEXT = N_("Yes, {day} was a school day, but students went home early ({event}).")
PAST_REGULAR_TEXT = N_("Yes, {day} was a regular school day.")
PAST = {CLOSURE_TEXT: PAST_CLOSURE_TEXT, HOLIDAY_TEXT: PAST_HOLIDAY_TEXT, BREAK_TEXT: PAST_BREAK_TEXT,
        WEEKEND_TEXT: PAST_WEEKEND_TEXT, EARLY_TEXT: PAST_EARLY_TEXT, REGULAR_TEXT: PAST_REGULAR_TEXT}
# A weekend ("this weekend"): no school, and what the calendar has on it
WEEKEND_DAYS_TEXT = N_("There is no school on the weekend ({days}).")
ON_THE_CALENDAR_TEXT = N_("On the school calendar then: {events}.")
NOTHING_ON_TEXT = N_("Nothing is on the school calendar then.")
# A week ("next week"): its school days, one line each
WEEK_TEXT = N_("The school days from {first} to {last}:")
WEEK_CLOSED_TEXT = N_("No — there is no school from {first} to {last} ({event}).")
DAY_CLOSED_TEXT = N_("{day}: no school ({event}).")
DAY_EARLY_TEXT = N_("{day}: school, but students go home early ({event}).")
DAY_REGULAR_TEXT = N_("{day}: a regular school day.")


class CalendarAnswers:
    """The hook for the calendar intents; holds the loaded calendar (None: the profile has no
    [calendar], so only announced closures are known) and reloads it on `refresh`."""

    def __init__(self, db: Database, profile: SchoolProfile, data_dir: Path,
                 calendar: SchoolCalendar | None = None) -> None:
        self.db, self.profile, self.data_dir = db, profile, Path(data_dir)
        self.calendar = calendar
        self.error: str | None = None  # why the last load failed (None: it worked), for `homeroom status`

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
            self.error = None
        except Exception as exc:
            self.error = str(exc)
            log.warning("calendar.reload_failed error=%s", exc)

    def hooks(self) -> dict:
        return {intent: self for intent in INTENTS}

    def _today(self, turn: Turn) -> date:
        return turn.now.astimezone(self.profile.tz).date()

    def claims(self, turn: Turn, text: str) -> bool:
        """The message names a day: a date question, whichever intent the matcher also saw."""
        return find_date(text, self._today(turn), turn.lang) is not None

    def about(self, turn: Turn, text: str) -> str:
        """What a "Did you mean" button for a calendar intent carries: the days `text` names."""
        found = find_date(text, self._today(turn), turn.lang)
        return found.pack() if found is not None else ""

    def _asked(self, turn: Turn, today: date) -> Found | None:
        """The days asked about: carried by the tapped button, else named in the message."""
        if turn.about:
            return Found.unpack(turn.about)
        return find_date(turn.incoming.text or "", today, turn.lang)

    async def __call__(self, turn: Turn, catalog_answer: Text) -> Text:
        today = self._today(turn)
        found = self._asked(turn, today)
        if found is None:
            if turn.intent == "school_closure":  # "snow day?": a closure announced for today comes first
                closure = await self.db.run(closures.on, today)
                if closure is not None:
                    return await self._about(today, today, turn.lang)
            return catalog_answer
        if found.last is not None:
            answer = await self._about_days(found.days, turn.lang)
        else:
            answer = await self._about(found.day, today, turn.lang)
        return answer if answer is not None else catalog_answer

    async def _announced(self, first: date, last: date) -> dict:
        return {c.day: c for c in await self.db.run(closures.between, first, last + timedelta(days=LOOK_AHEAD))}

    async def _about(self, day: date, today: date, lang: str) -> Text | None:
        announced = await self._announced(day, day)
        cal = self.calendar
        when = _when(lang)
        said = (lambda msgid: PAST[msgid]) if day < today else (lambda msgid: msgid)  # noqa: E731
        if day in announced:
            return self._with_reopening(Text(said(CLOSURE_TEXT), {"day": when(day),
                                                                   "reason": Text(announced[day].reason, kind="free")}),
                                        day, announced, when, REOPENS_TEXT)
        if cal is None:
            return None
        events = cal.on(day)
        closed = next((e for e in events if e.kind == CLOSED), None)
        if closed is not None:
            name = Text(closed.summary, kind="free")
            if closed.first == closed.last:
                first = Text(said(HOLIDAY_TEXT), {"day": when(day), "event": name})
            else:
                first = Text(said(BREAK_TEXT), {"day": when(day), "event": name, "first": when(closed.first),
                                                "last": when(closed.last)})
            return self._with_reopening(first, day, announced, when, REOPENS_TEXT)
        if day.weekday() >= 5:
            return self._with_reopening(Text(said(WEEKEND_TEXT), {"day": when(day)}), day, announced, when,
                                        NEXT_DAY_TEXT)
        outside = self._outside_year(day, when)
        if outside is not None:
            return outside
        early = next((e for e in events if e.kind == EARLY), None)
        if early is not None:
            first = Text(said(EARLY_TEXT), {"day": when(day), "event": Text(early.summary, kind="free")})
        else:
            first = Text(said(REGULAR_TEXT), {"day": when(day)})
        return joined([first, *self._also([e for e in events if e is not early], lang)], sep=" ")

    async def _about_days(self, days: list[date], lang: str) -> Text | None:
        """A weekend (Saturday and Sunday) or a week's school days."""
        announced = await self._announced(days[0], days[-1])
        if self.calendar is None and not any(d in announced for d in days):
            return None
        when = _when(lang)
        if all(d.weekday() >= 5 for d in days):
            return self._weekend(days, announced, when, lang)
        return self._week([d for d in days if d.weekday() < 5], announced, when, lang)

    def _weekend(self, days: list[date], announced: dict, when, lang: str) -> Text:
        parts = [Text(WEEKEND_DAYS_TEXT, {"days": joined([when(d) for d in days], sep=" – ")})]
        if self.calendar is not None:
            named, seen = [], set()
            for day in days:
                for event in self.calendar.on(day):
                    if event.summary in seen:  # a break over the whole weekend: named once
                        continue
                    seen.add(event.summary)
                    name = self._name(event, lang)
                    on_every_day = all(any(e.summary == event.summary for e in self.calendar.on(d)) for d in days)
                    named.append(name if on_every_day or len(days) == 1 else
                                 Text("{day}: {event}", {"day": when(day), "event": name}, kind="fixed"))
            parts.append(Text(ON_THE_CALENDAR_TEXT, {"events": joined(named, sep="; ")}) if named
                         else Text(NOTHING_ON_TEXT))
        return self._with_reopening(joined(parts, sep=" "), days[-1], announced, when, NEXT_DAY_TEXT)

    def _week(self, days: list[date], announced: dict, when, lang: str) -> Text:
        cal = self.calendar
        outside = [d for d in days if self._outside_year(d, when) is not None]
        inside = [d for d in days if d not in outside]
        if not inside:
            return self._outside_year(days[0], when)
        lines, reasons = [], set()
        for day in inside:
            events = cal.on(day) if cal is not None else ()
            closed = next((e for e in events if e.kind == CLOSED), None)
            early = next((e for e in events if e.kind == EARLY), None)
            if day in announced:
                reason = announced[day].reason
                reasons.add(("announced", reason))
                lines.append(Text(DAY_CLOSED_TEXT, {"day": when(day), "event": Text(reason, kind="free")}))
                continue
            if closed is not None:
                reasons.add(("calendar", closed.summary))
                lines.append(Text(DAY_CLOSED_TEXT, {"day": when(day), "event": Text(closed.summary, kind="free")}))
                continue
            reasons.add(("open", ""))
            if cal is None:  # only the announced closures are known: say nothing of the other days
                continue
            line = Text(DAY_EARLY_TEXT, {"day": when(day), "event": Text(early.summary, kind="free")}) \
                if early is not None else Text(DAY_REGULAR_TEXT, {"day": when(day)})
            lines.append(joined([line, *self._also([e for e in events if e is not early], lang)], sep=" "))
        if len(reasons) == 1 and next(iter(reasons))[0] != "open":  # one closure for all of it: say it once
            event = Text(next(iter(reasons))[1], kind="free")
            closed = Text(WEEK_CLOSED_TEXT, {"first": when(inside[0]), "last": when(inside[-1]), "event": event})
            return self._with_reopening(closed, inside[-1], announced, when, REOPENS_TEXT)
        head = Text(WEEK_TEXT, {"first": when(inside[0]), "last": when(inside[-1])})
        text = joined([head, *lines], sep="\n• ")
        if outside:
            return joined([text, self._outside_year(outside[0], when)], sep="\n")
        return text

    def _outside_year(self, day: date, when) -> Text | None:
        cal = self.calendar
        if cal is not None and cal.year_start and day < cal.year_start:
            return Text(BEFORE_YEAR_TEXT, {"first": when(cal.year_start)})
        if cal is not None and cal.year_end and day > cal.year_end:
            return Text(AFTER_YEAR_TEXT, {"last": when(cal.year_end)})
        return None

    @staticmethod
    def _name(event, lang: str) -> Text:
        """The event's name as the school wrote it (translated as staff words), with its time."""
        name = Text(event.summary, kind="free")
        if event.starts is not None:
            name = Text("{event} ({time})", {"event": name, "time": fmt.clock(event.starts, lang)}, kind="fixed")
        return name

    def _also(self, events, lang: str) -> list[Text]:
        named = [self._name(e, lang) for e in events if e.kind != CLOSED]
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


def _when(lang: str):
    """A day as the family reads it ("Mon, Dec 7"), never translated again."""
    return lambda d: Text(fmt.day(d, lang), kind="fixed")


async def start_calendar(db: Database, profile: SchoolProfile, data_dir: Path) -> CalendarAnswers:
    """The calendar answers for a starting bot. A calendar that cannot be read (a missing file,
    a school website that is down and no saved copy yet) does not stop the bot: it is logged as
    a warning (and in `homeroom status`), date questions get the catalog's answer meanwhile, and
    announced closures still work; `homeroom reload` tries again."""
    answers = CalendarAnswers(db, profile, data_dir)
    try:
        answers.calendar = await asyncio.to_thread(answers.load)
    except CalendarError as exc:
        answers.error = str(exc)
        log.warning("calendar.unavailable error=%r", str(exc))
    return answers
