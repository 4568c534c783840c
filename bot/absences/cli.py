"""`homeroom absences export --date YYYY-MM-DD [--out FILE]`: the absences families reported for
one school day, as CSV for the attendance clerk (child, guardian, language, days, reason, note,
reported at). UTF-8 with a byte-order mark, so a spreadsheet opens "Nguyễn" correctly; every
cell goes through `bot.csv_safe`, so a name like `=HYPERLINK(…)` is shown as text, never run."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from datetime import date
from pathlib import Path
from typing import Callable

from bot import csv_safe
from bot.absences import store
from bot.absences.notice import REASON_WORDS
from bot.config import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
COLUMNS = ["child", "guardian", "language", "dates", "reason", "note", "reported_at"]
Handler = Callable[[Settings, argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add `absences` to `homeroom`; return name -> handler."""
    parser = sub.add_parser("absences", help="absences families reported in the chat: export a day as CSV")
    parser.add_argument("action", choices=["export"])
    parser.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the school day to export")
    parser.add_argument("--out", metavar="PATH", help="write the CSV here (default: stdout)")
    return {"absences": absences_command}


def export_csv(absences: list[store.Absence]) -> bytes:
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerow(COLUMNS)
    for a in absences:
        writer.writerow([a.child, a.guardian, a.language, " ".join(d.isoformat() for d in a.days),
                         REASON_WORDS.get(a.reason, a.reason), a.note, a.reported_at[:19]])
    return out.getvalue().encode("utf-8-sig")


def absences_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(f"homeroom: absences export --date {args.date!r}: write the day as YYYY-MM-DD", file=sys.stderr)
        return EXIT_USAGE
    from bot.ops.database_path import require_existing_database

    require_existing_database(settings)  # a staff command never creates the database
    data = asyncio.run(_export(settings, day))
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


async def _export(settings: Settings, day: date) -> bytes:
    from bot.storage import Database

    db = await Database(settings.db_path).open()
    try:
        return export_csv(await db.run(store.on_day, day))
    finally:
        await db.close()
