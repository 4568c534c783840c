"""Dates, times and catalog text for sign-ups, in the family's language.

Dates and times come from bot/dates.py (Babel's CLDR data, or a language's curated date
words). Staff-written titles go into replies as `staff` Texts: curated like any UI string (`homeroom locales extract` can add them), else machine
translated, else as written.
"""

from __future__ import annotations

from datetime import datetime

from bot import dates
from bot.core.localize import Text
from bot.i18n import Locales
from bot.understanding.language import ENGLISH_NAMES, language_in_text, language_name


day, clock = dates.day, dates.clock  # 'Mon, Dec 7' / '8:00 AM' in the family's language


# How a language joins a date to its time: Chinese with a space (no Latin comma), Arabic with
# its own comma.
_DATE_TIME_JOIN = {"zh": " ", "ar": "، "}


def when(start: datetime, end: datetime, lang: str) -> str:
    """'Mon, Dec 7, 8:00 AM – 10:00 AM' in the event's own time zone."""
    join = _DATE_TIME_JOIN.get(lang, ", ")
    if start.date() == end.date():
        return f"{day(start, lang)}{join}{clock(start, lang)} – {clock(end, lang)}"
    return f"{day(start, lang)}{join}{clock(start, lang)} – {day(end, lang)}{join}{clock(end, lang)}"


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


def language_in_sentence(code: str, lang: str) -> str:
    """The language's name inside a sentence in `lang` ('español' in Spanish)."""
    return language_in_text(code, lang)


def english_language(code: str) -> str:
    """The language's English name ('Vietnamese'), for staff lists."""
    return ENGLISH_NAMES.get(code, code)
