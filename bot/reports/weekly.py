"""The weekly report in Slack: its Block Kit message and the loop that posts it once a week.

The loop wakes at the scheduled time (Monday 08:00 in the school's time zone by default),
computes the report for the seven days before that day, and hands `post(text, blocks, png)`
the message and the chart (the lead wires `post` to the Slack client: a file upload to the
configured report channel). The week posted last is remembered in a small JSON file in the
data dir, written only after `post` succeeds, so a restart never posts a week twice and a
failed post is tried again (hourly) on the same day. A report missed by more than
`CATCH_UP` (the bot was down, or this is its first start mid-week) is skipped, not posted late.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Awaitable, Callable

from bot.reports.compute import Report

log = logging.getLogger(__name__)

Post = Callable[[str, list, bytes], Awaitable[None]]
CATCH_UP = timedelta(hours=24)
MAX_NAP = timedelta(hours=1)   # re-check at least hourly (clock changes, suspend, retries)
STATE_FILE = "weekly_report.json"


def _utcnow() -> datetime:
    from bot.core.messages import utcnow
    return utcnow()


# -- schedule ------------------------------------------------------------------------------
def _at(day: date, hour: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz)


def next_weekly_run(now: datetime, tz: tzinfo, weekday: int = 0, hour: int = 8) -> datetime:
    """The first `weekday` (0 = Monday) at `hour`:00 in `tz` strictly after `now` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    local = now.astimezone(tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    run = _at(day, hour, tz)
    if run <= local:
        run = _at(day + timedelta(days=7), hour, tz)
    return run


def last_weekly_run(now: datetime, tz: tzinfo, weekday: int = 0, hour: int = 8) -> datetime:
    """The latest scheduled run at or before `now`."""
    upcoming = next_weekly_run(now, tz, weekday, hour)
    return _at(upcoming.date() - timedelta(days=7), hour, tz)


def week_before(run: datetime) -> tuple[datetime, datetime]:
    """The seven whole local days before the run's day: [day - 7 at 00:00, day at 00:00)."""
    tz = run.tzinfo
    return _at(run.date() - timedelta(days=7), 0, tz), _at(run.date(), 0, tz)


# -- the message ---------------------------------------------------------------------------
def slack_message(report: Report) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): a header, the headline numbers, topics, languages, sign-ups.
    Everything from data (school, titles, topics) is escaped; sections stay within Slack's
    3,000 characters and the message within 50 blocks."""
    from bot.channels.slack.blocks import MAX_SECTION, context, escape, fit, header, section, split_text
    from bot.reports import render

    def safe_sections(raw: str, label: str = "") -> list[dict[str, Any]]:
        """Escaped, split sections of `raw`; our own bold `label` heads the first one."""
        head = f"*{label}*\n" if label else ""
        parts = [escape(part) for part in split_text(raw, MAX_SECTION - len(head))]
        return [section(head + part if i == 0 else part) for i, part in enumerate(parts)]

    head = [header(f"{report.school or 'Homeroom'}: weekly report")]
    head += context(escape(f"{render.period_label(report)} ({report.start:%Y-%m-%d} to "
                           f"{(report.end - timedelta(microseconds=1)):%Y-%m-%d}, {report.start.tzname()})"))
    head += safe_sections("\n".join(render.summary_lines(report)))
    body: list[dict[str, Any]] = []
    if report.by_topic:
        body += safe_sections("\n".join(
            f"• {render.topic_label(t.topic)}: {t.questions} / {t.answered_by_bot} / {t.handed_off}"
            for t in report.by_topic), "Questions by topic (asked / by bot / to staff)")
    if report.by_language:
        body += safe_sections("\n".join(f"• {render.language_label(x.language)}: {x.questions}"
                                        for x in report.by_language), "Questions by language")
    if report.families_by_language:
        body += safe_sections("\n".join(f"• {render.language_label(x.language)}: {x.questions}"
                                        for x in report.families_by_language), "Families by language")
    signups = [line.strip() for line in render.signup_lines(report)]
    body += safe_sections("\n".join([f"• {line}" for line in signups or ["none"]] + [render.conference_line(report)]),
                          "Volunteer sign-ups (this week's and upcoming shifts)")
    blocks = fit(head, body, [])
    text = escape(f"{report.school or 'Homeroom'} weekly report, {render.period_label(report)}: "
                  + " ".join(render.summary_lines(report)))  # Slack parses the fallback as mrkdwn too
    return text, blocks


# -- the loop ------------------------------------------------------------------------------
def _read_last(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("last_week_start")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("report.weekly_state_unreadable path=%s error=%s", path, type(exc).__name__)
        return None


def _write_last(path: Path, week_start: str) -> None:
    """Atomically (a half-written file must not make the next start post again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"last_week_start": week_start}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


async def post_if_due(homeroom_db, catalog, profile, post: Post, now: datetime, state_path: Path,
                      weekday: int = 0, hour: int = 8) -> bool:
    """Post last week's report if its time has come, it is not older than CATCH_UP, and it
    has not been posted yet. Returns whether it posted."""
    from bot.reports import render
    from bot.reports.compute import compute

    run = last_weekly_run(now, profile.tz, weekday, hour)
    if now - run > CATCH_UP:
        return False
    start, end = week_before(run)
    if _read_last(state_path) == start.date().isoformat():
        return False
    if callable(catalog):  # a getter: the catalog running now, after any `homeroom reload`
        catalog = catalog()
    report = await homeroom_db.run(compute, catalog, start, end, profile.name)
    text, blocks = slack_message(report)
    png = await asyncio.to_thread(render.png_bytes, report)  # matplotlib is slow: off the loop
    await post(text, blocks, png)
    _write_last(state_path, start.date().isoformat())
    log.info("report.weekly_posted week_start=%s questions=%s", start.date().isoformat(), report.questions)
    return True


async def weekly_report_loop(homeroom_db, catalog, profile, post: Post, stop: asyncio.Event,
                             clock: Callable[[], datetime] = _utcnow, state_path: Path | None = None,
                             weekday: int = 0, hour: int = 8) -> None:
    """Check now, then at each scheduled time (and at least hourly), until `stop` is set.

    `state_path` defaults to `weekly_report.json` next to the database. A failing post or
    report is logged and tried again at the next check; it never ends the loop."""
    if state_path is None:
        state_path = Path(str(homeroom_db.path)).parent / STATE_FILE
    while True:
        now = clock()
        try:
            await post_if_due(homeroom_db, catalog, profile, post, now, state_path, weekday, hour)
        except Exception:
            log.exception("report.weekly_failed")
        if stop.is_set():
            return
        nap = min(next_weekly_run(now, profile.tz, weekday, hour) - now, MAX_NAP)
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(1.0, nap.total_seconds()))
            return
        except asyncio.TimeoutError:
            pass
