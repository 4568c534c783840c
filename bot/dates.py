"""Dates and times in a family's language, for text a family reads.

Babel's CLDR data where it is good; curated words from `locales/<lang>/dates.toml` where CLDR
has none (Haitian Creole: "M12 7, Mon") or writes a language in another's order (Somali). A
language with neither falls back to English. Spaces Babel puts in as narrow no-break spaces
become plain spaces so every channel (and terminal) shows them alike.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel.core import UnknownLocaleError
from babel.dates import format_datetime, format_skeleton, format_time

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
_school_locales: Path | None = None  # HOMEROOM_LOCALES_DIR, when the school has its own


def use_locales(directory: Path | None) -> None:
    """Read `<lang>/dates.toml` from the school's locales directory first (set at start-up from
    HOMEROOM_LOCALES_DIR), then from the bundled one, so a school that copied only its .po files
    keeps the bundled Creole dates."""
    global _school_locales
    _school_locales = directory if directory and directory.resolve() != LOCALES_DIR else None
    for cached in (words, day, clock):
        cached.cache_clear()


@dataclass(frozen=True)
class DateWords:
    """One language's curated date words and patterns (see locales/ht/dates.toml)."""
    months: tuple[str, ...]
    months_short: tuple[str, ...]
    weekdays: tuple[str, ...]        # Monday first, like date.weekday()
    weekdays_short: tuple[str, ...]
    periods: tuple[str, str]
    day: str
    date: str
    time: str
    weekday_time: str

    def render(self, pattern: str, moment: date | datetime) -> str:
        hour = getattr(moment, "hour", 0)
        return pattern.format(
            weekday=self.weekdays[moment.weekday()], weekday_short=self.weekdays_short[moment.weekday()],
            day=moment.day, month=self.months[moment.month - 1], month_short=self.months_short[moment.month - 1],
            year=moment.year, hour=hour, hour12=(hour % 12) or 12, minute=f"{getattr(moment, 'minute', 0):02d}",
            period=self.periods[hour >= 12])


@lru_cache(maxsize=64)
def words(lang: str, directory: Path | None = None) -> DateWords | None:
    """The curated date words for `lang`, or None (Babel's then)."""
    places = [directory] if directory else [d for d in (_school_locales, LOCALES_DIR) if d is not None]
    path = next((p for p in (d / lang / "dates.toml" for d in places) if p.is_file()), None)
    if path is None:
        return None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    lists = {k: tuple(data[k]) for k in ("months", "months_short", "weekdays", "weekdays_short", "periods")}
    if len(lists["months"]) != 12 or len(lists["months_short"]) != 12 or len(lists["weekdays"]) != 7 \
            or len(lists["weekdays_short"]) != 7 or len(lists["periods"]) != 2:
        raise ValueError(f"{path}: needs 12 months, 7 weekdays and 2 periods")
    return DateWords(**lists, day=data["day"], date=data["date"], time=data["time"],
                     weekday_time=data["weekday_time"])


def _clean(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u2009", " ").replace("\u00a0", " ")


def _babel(lang: str) -> str:
    return lang if lang != "en" else "en_US"


@lru_cache(maxsize=8192)
def day(moment: date | datetime, lang: str) -> str:
    """'Mon, Dec 7' (or the language's own short weekday + date)."""
    if (curated := words(lang)) is not None:
        return curated.render(curated.day, moment)
    try:
        return _clean(format_skeleton("MMMEd", moment, locale=_babel(lang)))
    except (UnknownLocaleError, ValueError):
        return _clean(format_skeleton("MMMEd", moment, locale="en_US"))


@lru_cache(maxsize=8192)
def clock(moment: datetime, lang: str) -> str:
    """'8:00 AM' / '08:00' as the language writes a short time."""
    if (curated := words(lang)) is not None:
        return curated.render(curated.time, moment)
    try:
        return _clean(format_time(moment, "h:mm a" if lang == "en" else "short", locale=_babel(lang)))
    except (UnknownLocaleError, ValueError):
        return _clean(format_time(moment, "h:mm a", locale="en_US"))


def long_date(moment: date | datetime, lang: str) -> str:
    """'Mar 5, 2026' in the language's order."""
    if (curated := words(lang)) is not None:
        return curated.render(curated.date, moment)
    try:
        return _clean(format_skeleton("yMMMd", moment, locale=_babel(lang)))
    except (UnknownLocaleError, ValueError):
        return _clean(format_skeleton("yMMMd", moment, locale="en_US"))


def weekday_time(moment: datetime, lang: str) -> str:
    """'Monday 7:30 AM' (an office opening) in the language, in the moment's own time zone."""
    if (curated := words(lang)) is not None:
        return curated.render(curated.weekday_time, moment)
    try:
        return _clean(format_datetime(moment, "EEEE H:mm" if lang != "en" else "EEEE h:mm a",
                                      tzinfo=moment.tzinfo, locale=lang))
    except (UnknownLocaleError, ValueError):
        return _clean(format_datetime(moment, "EEEE h:mm a", tzinfo=moment.tzinfo, locale="en"))
