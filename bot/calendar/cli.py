"""`homeroom closure add | list | remove`: closures announced on the day (a snow day).

- `closure add --date YYYY-MM-DD --reason "Snow day: all district schools are closed"`: families
  who ask about that day are told first, in their language where the reason has a curated
  translation (else machine translated, else as written). Adding a date again replaces it.
- `closure list [--all]`: closures from today on (--all: past ones too).
- `closure remove --date YYYY-MM-DD`: the closure is called off.

The running bot reads the table on every answer: no reload needed. Changes are audited
(`--as NAME`, else the login name). Exit codes: 0 ok, 1 nothing to remove, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import date
from typing import Callable

from bot.config import Settings
from bot.ops.database_path import require_existing_database

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: write the date as YYYY-MM-DD, e.g. 2026-12-09") from None


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[Settings, argparse.Namespace], int]]:
    closure = sub.add_parser("closure", help="closures announced on the day (snow day): add, list, remove")
    actions = closure.add_subparsers(dest="closure_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="announce that school is closed on a date")
    add.add_argument("--date", type=_day, required=True, help="YYYY-MM-DD (the school's date)")
    add.add_argument("--reason", required=True, help='what families are told, e.g. "Snow day"')
    add.add_argument("--as", dest="actor", help="your name for the audit log (default: login name)")
    listing = actions.add_parser("list", help="closures from today on")
    listing.add_argument("--all", action="store_true", help="past closures too")
    remove = actions.add_parser("remove", help="call off an announced closure")
    remove.add_argument("--date", type=_day, required=True, help="YYYY-MM-DD")
    remove.add_argument("--as", dest="actor", help="your name for the audit log (default: login name)")
    return {"closure": _closure}


def _closure(settings: Settings, args: argparse.Namespace) -> int:
    from bot.calendar import closures
    from bot.config import load_school_profile
    from bot.core.messages import utcnow
    from bot.storage import Database, audit

    require_existing_database(settings)  # a closure in a database the bot does not read helps nobody
    action = args.closure_action
    if action == "add" and not args.reason.strip():
        print("homeroom: closure add: --reason must say why (families read it)")
        return EXIT_USAGE
    tz = load_school_profile(settings.school_profile_path).tz
    actor = getattr(args, "actor", None) or getpass.getuser()

    async def go() -> int:
        db = await Database(settings.db_path).open()
        try:
            now = utcnow()
            stamp = now.isoformat()
            if action == "add":
                def add(conn):
                    new = closures.add(conn, args.date, args.reason.strip(), actor, stamp)
                    audit.record(conn, actor, "closure.added" if new else "closure.replaced",
                                 args.date.isoformat(), stamp)
                    return new
                new = await db.transact(add)
                print(f"{'added' if new else 'replaced'}: {args.date.isoformat()} closed: {args.reason.strip()}")
                return EXIT_OK
            if action == "remove":
                def remove(conn):
                    gone = closures.remove(conn, args.date)
                    if gone:
                        audit.record(conn, actor, "closure.removed", args.date.isoformat(), stamp)
                    return gone
                if not await db.transact(remove):
                    print(f"no closure on {args.date.isoformat()}")
                    return EXIT_FAIL
                print(f"removed: {args.date.isoformat()}")
                return EXIT_OK
            since = None if args.all else now.astimezone(tz).date()
            found = await db.run(closures.listed, since)
            if not found:
                print("no closures announced" + ("" if args.all else " from today on"))
            for c in found:
                print(f"{c.day.isoformat()}  {c.reason}  (added by {c.added_by}, {c.added_at[:16]})")
            return EXIT_OK
        finally:
            await db.close()
    return asyncio.run(go())
