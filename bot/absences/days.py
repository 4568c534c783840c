"""Which school days an absence report can name: weekdays that are not one of the profile's
[office_hours] holidays. Families pick them from buttons; a typed date is never parsed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable


def is_school_day(day: date, holidays: Iterable[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def school_days_from(start: date, count: int, holidays: frozenset[date]) -> list[date]:
    """The first `count` school days on or after `start` (looking at most 60 days ahead)."""
    found: list[date] = []
    day = start
    while len(found) < count and day <= start + timedelta(days=60):
        if is_school_day(day, holidays):
            found.append(day)
        day += timedelta(days=1)
    return found


def rest_of_week(start: date, holidays: frozenset[date]) -> list[date]:
    """The school days from `start` to the Friday of its week."""
    friday = start + timedelta(days=4 - start.weekday())
    return [start + timedelta(days=n) for n in range((friday - start).days + 1)
            if is_school_day(start + timedelta(days=n), holidays)]


def choices(today: date, holidays: frozenset[date]) -> dict[str, list[date]]:
    """The spans offered, by button key: the first school day from today ("one"), the one after
    it ("two"), both ("both"), and the rest of that week when it is longer than two days ("week"),
    else the next three school days ("three")."""
    first, second, *_ = school_days_from(today, 3, holidays) + [None, None]
    if first is None or second is None:
        return {}
    offered = {"one": [first], "two": [second], "both": [first, second]}
    week = rest_of_week(first, holidays)
    if len(week) > 2:
        offered["week"] = week
    else:
        three = school_days_from(first, 3, holidays)
        if len(three) == 3:
            offered["three"] = three
    return offered


def consecutive(days: list[date], holidays: frozenset[date]) -> int:
    """The longest run of school days in `days` with no school day missing between them."""
    best = run = 0
    previous: date | None = None
    for day in sorted(days):
        if previous is not None and school_days_from(previous + timedelta(days=1), 1, holidays) == [day]:
            run += 1
        else:
            run = 1
        best, previous = max(best, run), day
    return best
