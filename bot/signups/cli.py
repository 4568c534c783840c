"""`homeroom signups list | export [--csv] | import FILE.csv` — the staff side of sign-ups.

- `list`: what is offered, with seats taken per shift and slots booked per teacher (the files
  are checked and synced first, as at start-up: errors print as `file:line: message`, exit 1).
- `export`: who signed up (confirmed and waitlisted, with language and "interpreter: …"
  where the family's language is not the teacher's); `--csv` writes CSV to stdout.
- `import FILE.csv`: read definitions from a CSV file (format in `bot/signups/definitions.py`
  and the README), check them with the existing YAML files, and — only when there is no
  problem and no refused edit — write them as `<name>.yaml` into the sign-ups directory and
  sync the database, so the running bot offers them at once. Problems are printed one per
  line as `row N: message`; the exit code is then 1.

Register it in `bot/cli.py` with `add_parser(sub)` and `_COMMANDS["signups"] = signups_command`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path

from bot.config import Settings, load_school_profile
from bot.signups import booking, store
from bot.signups.definitions import load_definitions, parse_csv, to_yaml
from bot.signups.staff import list_lines, roster_lines, write_csv

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("signups", help="volunteer and conference sign-ups: list, export, import")
    parser.add_argument("action", choices=["list", "export", "import"])
    parser.add_argument("file", nargs="?", help="the CSV file to import")
    parser.add_argument("--csv", action="store_true", help="export: write CSV to stdout")
    return parser


def signups_command(settings: Settings, args: argparse.Namespace) -> int:
    action = args.action
    if action == "import":
        if not getattr(args, "file", None):
            print("homeroom: signups import FILE.csv: the file is missing", file=sys.stderr)
            return EXIT_USAGE
        return asyncio.run(_import(settings, Path(args.file)))
    return asyncio.run(_show(settings, action, bool(getattr(args, "csv", False))))


async def _open(settings: Settings):
    from bot.storage import Database
    return await Database(settings.db_path).open()


async def _show(settings: Settings, action: str, as_csv: bool) -> int:
    """Sync the definitions first (as the bot does when it starts), so the list is what the
    files say — and a broken file is reported here, one `file:line: message` per line."""
    from bot.i18n import Locales
    from bot.signups import Signups

    profile = load_school_profile(settings.school_profile_path)
    defs = load_definitions(settings.signups_dir, profile.timezone)
    if defs.problems:
        for problem in defs.problems:
            print(problem)
        print(f"homeroom: the sign-up definitions in {settings.signups_dir} have errors", file=sys.stderr)
        return EXIT_FAIL
    db = await _open(settings)
    try:
        report = await Signups(db, profile, Locales(settings.locales_dir)).sync(defs)
        for refusal in report.refusals:
            print(f"warning: {refusal}", file=sys.stderr)
        if action == "list":
            opportunities, teachers = await db.run(store.summary)
            _print_list(opportunities, teachers)
        else:
            items = await db.run(store.roster)
            import getpass

            from bot.core.messages import utcnow
            from bot.storage import audit

            await db.transact(audit.record, getpass.getuser(), "signups.export", f"{len(items)} sign-ups",
                              utcnow().isoformat())  # staff saw families' names: audited
            if as_csv:
                _write_csv(items, sys.stdout)
            else:
                _print_roster(items)
        return EXIT_OK
    finally:
        await db.close()


# the texts and the CSV are shared with Slack's `/homeroom signups` (bot.signups.staff)
def _print_list(opportunities, teachers) -> None:
    print("\n".join(list_lines(opportunities, teachers)))


def _write_csv(items: list[store.Item], out) -> None:
    write_csv(items, out)


def _print_roster(items: list[store.Item]) -> None:
    print("\n".join(roster_lines(items)))


class _Refused(Exception):
    def __init__(self, refusals: list[str]) -> None:
        super().__init__("refused")
        self.refusals = refusals


async def _import(settings: Settings, path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"homeroom: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    profile = load_school_profile(settings.school_profile_path)
    imported = parse_csv(text, profile.timezone, source=str(path))
    if imported.problems:
        for problem in imported.problems:
            print(problem)
        print(f"{path}: {len(imported.problems)} problem(s); nothing was imported", file=sys.stderr)
        return EXIT_FAIL
    directory = settings.signups_dir
    target = directory / (re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-") + ".yaml")
    existing = load_definitions(directory, profile.timezone)
    existing.opportunities = [o for o in existing.opportunities if not o.where.startswith(_display(target) + ":")]
    existing.teachers = [t for t in existing.teachers if not t.where.startswith(_display(target) + ":")]
    combined = existing.merged(imported)
    if combined.problems:
        for problem in combined.problems:
            print(problem)
        print(f"{path}: conflicts with the definitions in {directory}; nothing was imported", file=sys.stderr)
        return EXIT_FAIL
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".import-", suffix=".yaml", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"# Imported from {path.name} by `homeroom signups import`.\n" + to_yaml(imported))
    db = await _open(settings)
    try:
        from bot.core.messages import utcnow
        from bot.i18n import Locales

        from bot.signups import ics, uid_domain

        domain = uid_domain(profile)
        notifier = booking.Notifier(Locales(settings.locales_dir), domain, ics.organizer(profile, domain))
        now = store.iso(utcnow())

        def apply(conn):
            report = store.sync(conn, combined, now, lambda c, shift_id, at: booking.promote(c, shift_id, at, notifier))
            if report.refusals:
                raise _Refused(report.refusals)  # rolls the whole sync back
            return report

        try:
            report = await db.transact(apply)
        except _Refused as refused:
            os.unlink(temp)
            for line in refused.refusals:
                print(line)
            print(f"{path}: refused; nothing was imported", file=sys.stderr)
            return EXIT_FAIL
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    finally:
        await db.close()
    print(f"imported {len(imported.opportunities)} opportunities and {len(imported.teachers)} teachers into "
          f"{target} (added {report.added}, updated {report.updated}, removed {report.deactivated})")
    return EXIT_OK


def _display(path: Path) -> str:
    from bot.signups.definitions import _display as display
    return display(path)
