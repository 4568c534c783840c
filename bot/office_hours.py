"""When staff are in: the school profile's office hours and holidays, in the school's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import SchoolProfile


def is_open(profile: SchoolProfile, when: datetime) -> bool:
    local = when.astimezone(profile.tz)
    span = profile.office_hours.get(local.weekday())
    if span is None or local.date() in profile.holidays:
        return False
    return span[0] <= local.time() < span[1]


def next_opening(profile: SchoolProfile, when: datetime) -> datetime | None:
    """The next moment the office opens (school time zone), within three weeks; None if never."""
    local = when.astimezone(profile.tz)
    for days in range(0, 22):
        day = (local + timedelta(days=days)).date()
        span = profile.office_hours.get(day.weekday())
        if span is None or day in profile.holidays:
            continue
        opening = datetime.combine(day, span[0], tzinfo=profile.tz)
        if opening > local:
            return opening
    return None
