"""Find the day a message asks about: "tomorrow", "el lunes", "下周一", "December 8", "8/12",
"yesterday" — or the days: "this weekend", "next week", "esta semana".

The words are curated data (`date_words.yaml`, one list per language of the school); this
module only folds text the same way on both sides and resolves a match against today's date in
the school's time zone. Every language's words are tried on every message, so a parent who
mixes languages ("no hay school mañana?") is understood. What wins when a message has several:
an explicit date, then a weekday (with "next" / "next week"), then a weekend or a week (next
weekend, this weekend, next week, this week), then the day after tomorrow, tomorrow, today,
yesterday. A weekday on its own is the next such day from today (today included). A week means
its school days, Monday to Friday, from today on ("this week" on a Saturday: the coming one); a
weekend its Saturday and Sunday, from today on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

WORDS_FILE = Path(__file__).with_name("date_words.yaml")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A month and day that far in the past mean next year's ("January 18" asked in December).
PAST_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class Found:
    day: date         # the day asked about; for a span (a week, a weekend) its first day
    how: str          # "date" | "weekday" | "after_tomorrow" | "tomorrow" | "today" | "yesterday"
    #                   | "next_weekend" | "this_weekend" | "next_week" | "this_week"
    last: date | None = None   # a span's last day (None: one day)

    @property
    def days(self) -> list[date]:
        """Every day asked about, in order."""
        last = self.last or self.day
        return [self.day + timedelta(days=n) for n in range((last - self.day).days + 1)]

    def pack(self) -> str:
        """The days as a button can carry them ("20261207", "20261207-20261211"): a "Did you
        mean" tap answers for the days the question named, even on a later day."""
        return self.day.strftime("%Y%m%d") + (self.last.strftime("-%Y%m%d") if self.last else "")

    @classmethod
    def unpack(cls, value: str | None) -> "Found | None":
        """`pack`'s days again (None: not ours). A span of Saturday and Sunday is a weekend."""
        try:
            first, _, last = (value or "").partition("-")
            day = datetime.strptime(first, "%Y%m%d").date()
            end = datetime.strptime(last, "%Y%m%d").date() if last else None
        except ValueError:
            return None
        if end is None:
            return cls(day, "date")
        if end < day:
            return None
        return cls(day, "this_weekend" if day.weekday() >= 5 else "this_week", end)


def fold(text: str) -> str:
    """Lower case, accents and Arabic vowel marks dropped, punctuation to spaces (but / and . kept
    between digits), spaces collapsed. Applied to the word lists and to messages alike."""
    text = unicodedata.normalize("NFKD", text.casefold()).replace("đ", "d").replace("ـ", "")
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn":
            continue
        out.append(ch if cat[0] in "LN" or ch in "/" else " ")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _phrase(words: list) -> str | None:
    """One regex alternation for a word list, longest first; word boundaries where the word
    starts or ends with a letter or digit of a spaced script (not for Chinese)."""
    parts = []
    for word in sorted({fold(str(w)) for w in words or [] if str(w).strip()}, key=len, reverse=True):
        body = re.escape(word).replace(r"\ ", r"\s+")
        if not re.search(r"[\u3400-\u9fff]", word):
            body = rf"(?<!\w){body}(?!\w)"
        parts.append(body)
    return "|".join(parts) or None


@dataclass(frozen=True)
class _Language:
    code: str
    today: re.Pattern | None
    tomorrow: re.Pattern | None
    after_tomorrow: re.Pattern | None
    yesterday: re.Pattern | None
    this_week: re.Pattern | None
    this_weekend: re.Pattern | None
    next_weekend: re.Pattern | None
    weekdays: tuple[tuple[int, re.Pattern], ...]
    next: re.Pattern | None
    next_week: re.Pattern | None
    months: tuple[tuple[int, re.Pattern, re.Pattern], ...]   # month, "8 de diciembre", "december 8"
    patterns: tuple[re.Pattern, ...]
    day_first: bool


def _compile(code: str, table: dict) -> _Language:
    def pattern(key: str) -> re.Pattern | None:
        body = _phrase(table.get(key) or [])
        return re.compile(body) if body else None

    weekdays = []
    for n, name in enumerate(WEEKDAYS):
        body = _phrase((table.get("weekdays") or {}).get(name) or [])
        if body:
            weekdays.append((n, re.compile(body)))
    months = []
    for month, words in (table.get("months") or {}).items():
        body = _phrase(words)
        if body:
            months.append((int(month), re.compile(rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er|ro|o|º)?\s+(?:de\s+|of\s+)?(?:{body})"),
                           re.compile(rf"(?:{body})\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)")))
    return _Language(code, pattern("today"), pattern("tomorrow"), pattern("after_tomorrow"), pattern("yesterday"),
                     pattern("this_week"), pattern("this_weekend"), pattern("next_weekend"), tuple(weekdays),
                     pattern("next"), pattern("next_week"), tuple(months),
                     tuple(re.compile(p) for p in table.get("patterns") or []),  # written for folded text
                     bool(table.get("day_first")))


@lru_cache(maxsize=4)
def languages(path: Path = WORDS_FILE) -> tuple[_Language, ...]:
    with path.open(encoding="utf-8") as file:
        raw = yaml.safe_load(file) or {}
    return tuple(_compile(code, table or {}) for code, table in raw.items())


def _month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    try:
        if year is not None:
            return date(year + 2000 if year < 100 else year, month, day)
        found = date(today.year, month, day)
    except ValueError:
        return None
    if found < today - PAST_GRACE:
        try:
            found = date(today.year + 1, month, day)
        except ValueError:  # February 29
            return None
    return found


def _day_of_month(today: date, day: int) -> date | None:
    """'the 20th': the next day with that number, this month or the next."""
    for ahead in range(0, 62):
        candidate = today + timedelta(days=ahead)
        if candidate.day == day:
            return candidate
    return None


_NUMERIC = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])")


def find_date(text: str, today: date, lang: str = "en", path: Path = WORDS_FILE) -> Found | None:
    """The day `text` asks about, or None when it names none."""
    folded = fold(text or "")
    if not folded:
        return None
    tables = languages(path)
    ordered = sorted(tables, key=lambda t: (t.code != lang, t.code != "en"))
    # 1. an explicit date: "december 8", "8 de diciembre", "12月8日", "the 20th", "12/8"
    for table in ordered:
        for month, day_month, month_day in table.months:
            for regex in (day_month, month_day):
                match = regex.search(folded)
                if match and (found := _month_day(today, month, int(match.group(1)))):
                    return Found(found, "date")
        for regex in table.patterns:
            match = regex.search(folded)
            if match:
                groups = match.groupdict()
                day = int(groups["day"])
                found = _month_day(today, int(groups["month"]), day) if groups.get("month") else \
                    _day_of_month(today, day)
                if found:
                    return Found(found, "date")
    match = _NUMERIC.search(folded)
    if match:
        a, b = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        day_first = next((t.day_first for t in tables if t.code == lang), False)
        readings = [(b, a), (a, b)] if day_first else [(a, b), (b, a)]  # (month, day)
        for month, day in readings:
            found = _month_day(today, month, day, year) if 1 <= month <= 12 else None
            if found:
                return Found(found, "date")
    # 2. a weekday, maybe "next" or "next week"
    for table in ordered:
        for weekday, regex in table.weekdays:
            if not regex.search(folded):
                continue
            if any(t.next_week and t.next_week.search(folded) for t in tables):
                monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
                return Found(monday + timedelta(days=weekday), "weekday")
            ahead = (weekday - today.weekday()) % 7
            if ahead == 0 and any(t.next and t.next.search(folded) for t in tables):
                ahead = 7
            return Found(today + timedelta(days=ahead), "weekday")
    # 3. a weekend or a week; "next weekend" before "weekend" and "next week" ("下周末" has "下周")
    monday = today - timedelta(days=today.weekday())
    for key in ("next_weekend", "this_weekend", "next_week", "this_week"):
        if any((regex := getattr(table, key)) is not None and regex.search(folded) for table in ordered):
            return _span(key, today, monday)
    # 4. relative days; "pasado mañana" before "mañana"
    for key, offset in (("after_tomorrow", 2), ("tomorrow", 1), ("today", 0), ("yesterday", -1)):
        for table in ordered:
            regex = getattr(table, key)
            if regex is not None and regex.search(folded):
                return Found(today + timedelta(days=offset), key)
    return None


def _span(key: str, today: date, monday: date) -> Found:
    """The days of a weekend or a week, from today on (a week's school days, Monday to Friday)."""
    if key == "next_weekend":
        saturday = monday + timedelta(days=12)  # the weekend after the coming one
    elif key == "this_weekend":
        saturday = monday + timedelta(days=5)
    else:
        start = monday + timedelta(days=7 if key == "next_week" or today.weekday() >= 5 else 0)
        return Found(max(start, today), key, start + timedelta(days=4))
    return Found(max(saturday, today), key, saturday + timedelta(days=1))
