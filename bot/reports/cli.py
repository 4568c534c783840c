"""`homeroom report`: the community report for a period, as text, and optionally CSV and a chart.

    homeroom report                         the last 7 full days (today excluded)
    homeroom report --month                 the previous calendar month
    homeroom report --since 2026-11-01 --until 2026-11-30 --png week.png --csv week.csv

Days are the school's (its profile's time zone); `--until` is inclusive. The database is only
read (never migrated or written), so the report is safe to run beside the live bot.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, time, timedelta
from typing import Callable

from bot.config import Settings

Handler = Callable[[Settings, argparse.Namespace], int]
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add this package's sub-commands to `homeroom`; return name -> handler."""
    report = sub.add_parser("report", help="the community report: questions, hand-offs, sign-ups (text, CSV, chart)",
                            description="Numbers for a period in the school's time zone (default: the last 7 full "
                                        "days), printed as text; --csv and --png also write a CSV and a chart.")
    span = report.add_mutually_exclusive_group()
    span.add_argument("--week", action="store_true", help="the last 7 full days, today excluded (the default)")
    span.add_argument("--month", action="store_true", help="the previous calendar month")
    report.add_argument("--since", metavar="YYYY-MM-DD", help="first day of the period (default: 6 days before --until)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="last day of the period, inclusive (default: today)")
    report.add_argument("--png", metavar="PATH", help="also write the chart (1200×675 PNG) here")
    report.add_argument("--csv", metavar="PATH", help="also write the numbers as CSV (section,key,metric,value)")
    return {"report": report_command}


class UsageError(ValueError):
    """A wrong option value; the message says what to type instead."""


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-30") from None


def period(args: argparse.Namespace, today: date) -> tuple[date, date]:
    """(first day, last day), inclusive, from the options; raises UsageError."""
    if (args.since or args.until) and (args.week or args.month):
        raise UsageError("use either --week/--month or --since/--until, not both")
    if args.since or args.until:
        last = _day(args.until, "--until") if args.until else today
        first = _day(args.since, "--since") if args.since else last - timedelta(days=6)
        if first > last:
            raise UsageError(f"--since {first} is after --until {last}")
        return first, last
    if args.month:
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return today - timedelta(days=7), today - timedelta(days=1)


def report_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_school
    from bot.core.messages import utcnow

    profile, catalog = load_school(settings)
    tz = profile.tz
    try:
        first, last = period(args, utcnow().astimezone(tz).date())
    except UsageError as exc:
        print(f"homeroom report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    if not settings.db_path.is_file():
        from bot.ops.database_path import missing_database_message

        print(f"homeroom report: {missing_database_message(settings)}", file=sys.stderr)
        return EXIT_FAIL
    report = asyncio.run(_compute(settings, catalog, start, end, profile.name))
    if report is None:
        print(f"homeroom report: the database at {settings.db_path} is not up to date; "
              "run `homeroom db migrate` first", file=sys.stderr)
        return EXIT_FAIL
    from bot.reports import render

    print(render.render_text(report), end="")
    for option, path, write in (("--csv", args.csv, render.write_csv), ("--png", args.png, render.write_png)):
        if not path:
            continue
        try:
            write(report, path)
        except OSError as exc:
            print(f"homeroom report: could not write {option} {path}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAIL
        print(f"wrote {path}")
    return EXIT_OK


async def _compute(settings: Settings, catalog, start: datetime, end: datetime, school: str):
    """The report, or None when the database's schema is older than this Homeroom's."""
    from bot.reports.compute import compute
    from bot.storage import Database
    from bot.storage.migrations import LATEST

    db = Database(settings.db_path)
    await db.open(migrate=False)  # read only: never change the live bot's database from here
    try:
        if await db.schema_version() < LATEST:
            return None
        return await db.run(compute, catalog, start, end, school)
    finally:
        await db.close()
