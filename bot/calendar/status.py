"""Did the school's calendar load? One line for `homeroom status` and `/healthz`.

Date questions fall back to the catalog's general answer when the calendar cannot be read, and
the bot keeps running, so without this line a broken `[calendar] source` shows only as a warning
in the log. In the bot the state is the running `CalendarAnswers`' (what parents are answered
from); from another process (`homeroom status`) the file is read as the bot would read it, and a
URL is not fetched: its saved copy in the data directory is what the bot falls back to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

LOADED, FAILED, NOT_CONFIGURED = "loaded", "failed", "not configured"


@dataclass(frozen=True)
class CalendarStatus:
    state: str                  # LOADED | FAILED | NOT_CONFIGURED
    source: str = ""            # the profile's [calendar] source
    events: int = 0
    first: date | None = None   # the first and last day any event covers
    last: date | None = None
    detail: str = ""            # FAILED: why; LOADED: a note (a saved copy in use, a reload that failed)

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    def line(self) -> str:
        if self.state == NOT_CONFIGURED:
            return "not configured (no [calendar] source in the school profile): date questions get the general answer"
        if self.state == FAILED:
            return (f"NOT LOADED ({self.source}): {self.detail}; date questions get the general answer until it "
                    "loads (fix it, then `homeroom reload`)")
        span = f", {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}" if self.first and self.last else ""
        return f"loaded, {self.events} event{'' if self.events == 1 else 's'}{span} ({self.source})" + \
            (f"; {self.detail}" if self.detail else "")

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "source": self.source or None, "events": self.events,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None, "detail": self.detail or None}


def of_calendar(calendar, source: str, note: str = "") -> CalendarStatus:
    """A loaded `SchoolCalendar`'s status."""
    first, last = calendar.span()
    detail = "; ".join(part for part in (calendar.note, note) if part)
    if not source.startswith(("https://", "http://")):
        source = calendar.where or source  # the file it read, not just the name the profile gives
    return CalendarStatus(LOADED, source, calendar.event_count, first, last, detail)


def of_answers(answers) -> CalendarStatus:
    """The running bot's calendar (`bot.calendar.answer.CalendarAnswers`)."""
    source = answers.profile.calendar_source
    if source is None:
        return CalendarStatus(NOT_CONFIGURED)
    if answers.calendar is None:
        return CalendarStatus(FAILED, source, detail=answers.error or "not read yet")
    note = f"the last reload failed, the calendar read before is in use: {answers.error}" if answers.error else ""
    return of_calendar(answers.calendar, source, note)


def read(profile, data_dir: Path) -> CalendarStatus:
    """From another process: read the calendar as the bot would, but a URL from its saved copy
    only (a status check must not fetch the school's website)."""
    from bot.calendar.load import CACHE_NAME, CalendarError, load_calendar, parse

    source = profile.calendar_source
    if source is None:
        return CalendarStatus(NOT_CONFIGURED)
    try:
        if source.startswith(("https://", "http://")):
            cache = Path(data_dir) / CACHE_NAME
            if not cache.is_file():
                return CalendarStatus(FAILED, source, detail=f"no saved copy at {cache}: the bot has not fetched "
                                                             "it yet, or cannot")
            return of_calendar(parse(cache.read_bytes(), profile.tz, str(cache)), source,
                               f"from the copy the bot saved at {cache} (this command does not fetch the URL)")
        return of_calendar(load_calendar(source, profile.path.parent, data_dir, profile.tz), source)
    except CalendarError as exc:
        return CalendarStatus(FAILED, source, detail=str(exc))
