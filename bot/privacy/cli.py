"""`homeroom purge | family export/delete | audit`: retention and families' data, for district IT.

- `purge [--dry-run]`: delete what the school profile's [retention] says has expired (the
  running bot also does it daily); prints rows per table, removed or that would be removed.
- `family export ID [--as NAME]`: everything held about family ID, as JSON on stdout (audited).
- `family delete ID [--yes] [--as NAME]`: cancel its sign-ups (waitlists move up), close its
  tickets (staff are told in the Slack thread), delete every row of it. Asks on a terminal
  unless --yes; refuses without --yes when there is no terminal to ask on.
- `audit [--limit N]`: the staff-access audit log, newest first.

The actor recorded in the audit log is `--as NAME`, else the login name.
Exit codes: 0 ok, 1 failed (e.g. no such family), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Callable

from bot.config import Settings
from bot.ops.database_path import require_existing_database

Handler = Callable[[Settings, argparse.Namespace], int]
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add this package's sub-commands to `homeroom`; return name -> handler."""
    purge = sub.add_parser("purge", help="delete families' data older than the school's retention policy")
    purge.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    family = sub.add_parser("family", help="one family's data: export it as JSON, or delete it")
    actions = family.add_subparsers(dest="family_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="print everything held about a family as JSON")
    export.add_argument("family_id", type=int, metavar="ID")
    export.add_argument("--as", dest="actor", help="your name for the audit log (default: login name)")
    delete = actions.add_parser("delete", help="delete a family and all its data (cancels its sign-ups)")
    delete.add_argument("family_id", type=int, metavar="ID")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--as", dest="actor", help="your name for the audit log (default: login name)")
    audit = sub.add_parser("audit", help="the staff-access audit log, newest first")
    audit.add_argument("--limit", type=_positive, default=50, help="how many entries (default 50)")
    return {"purge": _purge, "family": _family, "audit": _audit}


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


async def _open(settings: Settings):
    from bot.storage import Database
    return await Database(settings.db_path).open()


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from bot.config import load_school_profile
    from bot.core.messages import utcnow
    from bot.privacy.retention import run_purge

    require_existing_database(settings)  # never purge, export or audit a new, empty one
    policy = load_school_profile(settings.school_profile_path).retention

    async def go() -> int:
        db = await _open(settings)
        try:
            counts = await run_purge(db, policy, utcnow(), dry_run=args.dry_run)
        finally:
            await db.close()
        print(f"retention: messages {policy.messages_days} days, tickets {policy.tickets_days} days after "
              f"resolved, sign-ups {policy.signups_days} days after the event; audit log: kept")
        verb = "would remove" if args.dry_run else "removed"
        width = max(len(t) for t in counts)
        for table, n in counts.items():
            print(f"{table:<{width}}  {verb} {n}")
        print(f"total: {verb} {sum(counts.values())} row(s)" + (" (dry run: nothing was deleted)"
                                                                if args.dry_run else ""))
        return EXIT_OK
    return asyncio.run(go())


def _family(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.messages import utcnow
    from bot.privacy.family_data import FamilyNotFound, delete_family, export_family
    from bot.storage import audit

    require_existing_database(settings)  # before asking to confirm a delete
    actor = args.actor or getpass.getuser()
    family_id = args.family_id
    if args.family_action == "delete" and not args.yes:
        if not sys.stdin.isatty():
            print("homeroom: family delete: no terminal to confirm on; add --yes to delete without asking",
                  file=sys.stderr)
            return EXIT_USAGE
        answer = input(f"Delete family {family_id} and all its data (messages, tickets, sign-ups)? "
                       "This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was deleted")
            return EXIT_OK

    async def go() -> int:
        db = await _open(settings)
        try:
            now = utcnow().isoformat()
            if args.family_action == "export":
                def export(conn):
                    data = export_family(conn, family_id)
                    audit.record(conn, actor, "family.exported", f"family {family_id}", now)
                    return data
                data = await db.transact(export)
                print(json.dumps(data, ensure_ascii=False, indent=2))
                return EXIT_OK
            from bot.i18n import Locales
            from bot.privacy.retention import checkpoint
            from bot.signups.booking import Notifier

            counts = await db.transact(delete_family, family_id, actor, now, Notifier(Locales(settings.locales_dir)))
            await db.run(checkpoint)
            print(f"family {family_id} deleted ({actor} recorded in the audit log)")
            print(f"  sign-ups cancelled: {counts.pop('signups_cancelled')}, families promoted from a waitlist: "
                  f"{counts.pop('families_promoted')}, open tickets closed: {counts.pop('tickets_closed')}")
            for table, n in counts.items():
                print(f"  {table}: {n} row(s)")
            return EXIT_OK
        except FamilyNotFound as exc:
            print(f"homeroom: {exc}", file=sys.stderr)
            return EXIT_FAIL
        finally:
            await db.close()
    return asyncio.run(go())


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage import audit

    require_existing_database(settings)

    async def go() -> int:
        db = await _open(settings)
        try:
            rows = await db.run(audit.entries, args.limit)
        finally:
            await db.close()
        if not rows:
            print("the audit log is empty")
        for entry_id, actor, action, subject, at in rows:
            print(f"#{entry_id:<5} {at[:19].replace('T', ' ')}  {actor:16} {action:16} {subject}")
        return EXIT_OK
    return asyncio.run(go())
