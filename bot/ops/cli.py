"""`homeroom db …` (migrate, info, backup, restore, check), `homeroom status` and `homeroom reload`:
what the district's IT person runs. Exit codes: 0 ok/green, 1 failure/red, 2 usage."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from bot.config import Settings
from bot.ops.database_path import MissingDatabaseError, require_existing_database

Handler = Callable[[Settings, argparse.Namespace], int]
RELOAD_WAIT = 15.0  # seconds `homeroom reload` waits for the bot to report the outcome


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    db = sub.add_parser("db", help="database maintenance: migrate, info, backup, restore, check")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("migrate", help="apply missing schema migrations")
    actions.add_parser("info", help="schema version and row counts")
    backup = actions.add_parser("backup", help="copy the database to PATH (safe while the bot runs)")
    backup.add_argument("path", help="the backup file to write, or a folder (a timestamped name is used)")
    restore = actions.add_parser("restore", help="replace the database with a backup (stop the bot first)")
    restore.add_argument("path", help="the backup file")
    restore.add_argument("--force", action="store_true",
                         help="restore even when the current database has a newer schema than the backup")
    check = actions.add_parser("check", help="integrity and foreign-key check (exit 1 on problems)")
    check.add_argument("path", nargs="?", help="a database or backup file (default: the configured database)")
    status = sub.add_parser("status", help="is Homeroom healthy? (exit 0 green, 1 red)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    sub.add_parser("reload", help="check the intent catalog, then make the running bot reload it and the "
                                  "translations (no restart)")
    return {"db": _db, "status": _status, "reload": _reload}


def _fail(message: str) -> int:
    print(f"homeroom: {message}", file=sys.stderr)
    return 1


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops import backup as ops_backup
    from bot.ops.pidfile import pid_path

    if args.action in ("info", "backup"):  # migrate and restore may create the database; check never does
        require_existing_database(settings)
    if args.action == "backup":
        dest = Path(args.path).expanduser()
        if args.path.endswith(("/", os.sep)):
            dest.mkdir(parents=True, exist_ok=True)
        try:
            written = ops_backup.backup_file(settings.db_path, dest)
        except ops_backup.BackupError as exc:
            return _fail(str(exc))
        print(f"backup written: {written} ({written.stat().st_size} bytes, "
              f"schema {ops_backup.schema_version_of(written)}, integrity ok)")
        return 0
    if args.action == "restore":
        try:
            result = ops_backup.restore_file(Path(args.path).expanduser(), settings.db_path, force=args.force,
                                             pid_path=pid_path(settings))
        except ops_backup.BackupError as exc:
            return _fail(str(exc))
        print(f"restored {args.path} into {result.target} (schema {result.backup_version})")
        if result.kept is not None:
            print(f"the database it replaced is kept as {result.kept}")
        return 0
    if args.action == "check":
        path = Path(args.path).expanduser() if args.path else Path(settings.db_path)
        checked = ops_backup.check_file(path)
        if checked.ok:
            print(f"{path}: ok (integrity and foreign keys)")
            return 0
        print(f"{path}: {len(checked.problems)} problem(s):")
        for problem in checked.problems[:50]:
            print(f"  {problem}")
        print("Restore the newest good backup: homeroom db check BACKUP, then homeroom db restore BACKUP")
        return 1
    return _migrate_or_info(settings, args)


def _migrate_or_info(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage import Database
    from bot.storage.migrations import LATEST

    async def go() -> int:
        db = Database(settings.db_path)
        await db.open(migrate=args.action == "migrate")
        try:
            version = await db.schema_version()
            print(f"database: {settings.db_path}\nschema version: {version} (this Homeroom: {LATEST})")
            if args.action == "info" and version:
                for table in ("families", "messages", "tickets"):  # fixed names, not input
                    count = await db.run(lambda c, t=table: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                    print(f"{table}: {count}")
            return 0
        finally:
            await db.close()
    return asyncio.run(go())


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.status import gather_status
    from bot.storage import Database

    try:
        require_existing_database(settings)
    except MissingDatabaseError as exc:  # red (exit 1), as a monitoring check expects
        if args.json:
            print(json.dumps({"status": "red", "reasons": [str(exc)],
                              "database": {"path": str(Path(settings.db_path).absolute()), "schema_version": None}}))
        return _fail(str(exc))

    async def go():
        db = await Database(settings.db_path).open(migrate=False)
        try:
            return await gather_status(db, settings)
        finally:
            await db.close()

    status = asyncio.run(go())
    if args.json:
        print(json.dumps(status.as_json(), ensure_ascii=False, indent=2))
    else:
        print(status.render())
    return 0 if status.ok else 1


def _reload(settings: Settings, args: argparse.Namespace) -> int:
    from bot.config import load_school_profile
    from bot.ops.pidfile import pid_path, running_pid
    from bot.ops.reload import RESULT_NAME, read_result
    from bot.understanding.catalog import load_catalog

    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    if catalog.errors:
        print(catalog.report())
        print(f"homeroom: the intent catalog in {settings.intents_dir} has {len(catalog.errors)} error(s); "
              "nothing was reloaded. Fix them and run `homeroom reload` again.", file=sys.stderr)
        return 1
    path = pid_path(settings)
    pid = running_pid(path)
    if pid is None:
        return _fail(f"no running bot found ({path} is missing or stale), so nothing was reloaded. "
                     f"The catalog is valid ({len(catalog.intents)} intents); the bot loads it when it starts.")
    result_path = Path(settings.data_dir) / RESULT_NAME
    before = result_path.stat().st_mtime_ns if result_path.exists() else None
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        return _fail(f"not allowed to signal the bot (pid {pid}); run this as the user the bot runs as")
    except ProcessLookupError:
        return _fail(f"the bot (pid {pid}) stopped meanwhile; nothing was reloaded")
    deadline = time.monotonic() + RELOAD_WAIT
    while time.monotonic() < deadline:
        if result_path.exists() and result_path.stat().st_mtime_ns != before:
            result = read_result(result_path) or {}
            if result.get("pid") == pid:
                if result.get("ok"):
                    print(f"bot (pid {pid}) reloaded {result.get('intents')} intents "
                          f"({result.get('examples')} examples) and the curated translations")
                    return 0
                print(result.get("report", ""))
                return _fail(f"the bot (pid {pid}) refused the reload and kept the running catalog")
        time.sleep(0.2)
    return _fail(f"sent the reload signal to the bot (pid {pid}) but it did not report back within "
                 f"{RELOAD_WAIT:.0f} s; look for reload.done or reload.refused in its log")
