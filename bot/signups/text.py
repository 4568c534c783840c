"""Dates, times and catalog text for sign-ups, in the family's language.

Dates and times go through Babel with the family's locale (English patterns for English,
CLDR's for the rest); spaces Babel puts in as narrow no-break spaces become plain spaces so
every channel (and terminal) shows them alike. Staff-written titles go into replies as `staff`
Texts: curated like any UI string (`homeroom locales extract` can add them), else machine
translated, else as written.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel.core import UnknownLocaleError
from babel.dates import format_skeleton, format_time

from bot.core.localize import Text
from bot.i18n import Locales
from bot.understanding.language import ENGLISH_NAMES, language_name


def _clean(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u2009", " ").replace("\u00a0", " ")


@lru_cache(maxsize=8192)
def day(moment: date | datetime, lang: str) -> str:
    """'Mon, Dec 7' (or the language's own short weekday + date)."""
    try:
        return _clean(format_skeleton("MMMEd", moment, locale=lang if lang != "en" else "en_US"))
    except (UnknownLocaleError, ValueError):
        return _clean(format_skeleton("MMMEd", moment, locale="en_US"))


@lru_cache(maxsize=8192)
def clock(moment: datetime, lang: str) -> str:
    """'8:00 AM' / '08:00' as the language writes a short time."""
    try:
        return _clean(format_time(moment, "h:mm a" if lang == "en" else "short", locale=lang if lang != "en" else "en_US"))
    except (UnknownLocaleError, ValueError):
        return _clean(format_time(moment, "h:mm a", locale="en_US"))


def when(start: datetime, end: datetime, lang: str) -> str:
    """'Mon, Dec 7, 8:00 AM – 10:00 AM' in the event's own time zone."""
    if start.date() == end.date():
        return f"{day(start, lang)}, {clock(start, lang)} – {clock(end, lang)}"
    return f"{day(start, lang)}, {clock(start, lang)} – {day(end, lang)}, {clock(end, lang)}"


def curated(locales: Locales, lang: str, text: str) -> str:
    """Staff text (a title, a location) in `lang` when the catalogs have it, else as written: for
    messages written inside a transaction (`booking.Notifier`), where no model may run."""
    if not text:
        return text
    return locales.lookup(lang, text) or text


def staff(text: str | None) -> Text:
    """Staff-written words (a title, a place) for a reply: the Localizer gives them curated, else
    machine translated (and marks the reply), else as written — in the language of the sentence
    they are in."""
    return Text(text or "", kind="free")


def language_label(code: str) -> str:
    """The language's own name ('Tiếng Việt')."""
    return language_name(code)


def english_language(code: str) -> str:
    """The language's English name ('Vietnamese'), for staff lists."""
    return ENGLISH_NAMES.get(code, code)
