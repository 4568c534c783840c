"""Backups, restores and checks of the one SQLite file Homeroom keeps.

Backups use SQLite's online backup API on a connection of their own, in a worker thread, so
they are consistent while the bot runs and writes. The database is in WAL mode, where a reader
never blocks the writer: the copy is taken in one step inside a single read snapshot, so the
bot is not blocked at all. (A copy in small steps would restart each time the bot commits — the
backup API starts over when another connection writes the source — and might never finish on a
busy bot; steps are used only for a database that is not in WAL mode, where one long step would
hold off writers.)

A backup is written next to its destination and renamed into place only after it passed
`PRAGMA integrity_check`, so a backup file that exists is a whole, checked database.

Nightly backups (`backup_loop`) go to `HOMEROOM_BACKUP_DIR` as `homeroom-YYYYMMDDTHHMMSSZ.sqlite3`;
the newest timestamp in those names is "the last backup", and only the newest
`HOMEROOM_BACKUP_KEEP` of them are kept (0 turns nightly backups off).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.config import Settings
from bot.core.messages import utcnow
from bot.ops import pidfile

log = logging.getLogger("bot.ops.backup")

BACKUP_EVERY = timedelta(hours=24)      # a nightly backup is due when the newest is this old
CHECK_EVERY = 600.0                     # seconds between the loop's looks at whether one is due
STEP_PAGES = 1024                       # pages per step for a database not in WAL mode
_NAME_RE = re.compile(r"^homeroom-(\d{8}T\d{6}Z)\.sqlite3$")
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class CheckResult:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RestoreResult:
    target: Path
    kept: Path | None           # the replaced database, renamed (None: there was none)
    backup_version: int
    replaced_version: int | None


# -- checks ------------------------------------------------------------------------------
def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open an existing database (never create one by mistake)."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    mode = "ro" if readonly else "rw"
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None,
                           timeout=5.0)


def check_file(path: Path) -> CheckResult:
    """`PRAGMA integrity_check` and `foreign_key_check`: the problems found (none: ok)."""
    problems: list[str] = []
    try:
        conn = _connect(Path(path))
    except BackupError as exc:
        return CheckResult(Path(path), [str(exc)])
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            problems.extend(f"integrity: {r}" for r in rows)
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign key: {table} row {rowid} points to a missing {parent} row")
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database", "database disk image is malformed"
        problems.append(f"integrity: {exc}")
    finally:
        conn.close()
    return CheckResult(Path(path), problems)


def schema_version_of(path: Path) -> int:
    """The schema version as `bot.storage.db` reads it (the highest row of `schema_version`)."""
    conn = _connect(Path(path), readonly=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone() is None:
            return 0
        return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable Homeroom database ({exc})") from None
    finally:
        conn.close()


# -- backup ------------------------------------------------------------------------------
def backup_file(source: Path, dest: Path) -> Path:
    """Copy the live database `source` to `dest` (a file, or a folder for a timestamped name),
    consistently and without blocking the bot. Returns the file written. Runs in the caller's
    thread: from async code use `backup()`."""
    source, dest = Path(source), Path(dest)
    if dest.is_dir():
        dest = dest / backup_name(utcnow())
    if dest.resolve() == source.resolve():
        raise BackupError(f"{dest}: that is the database itself; choose another file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    src = _connect(source, readonly=False)
    try:
        dst = sqlite3.connect(str(partial), isolation_level=None)
        try:
            wal = str(src.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            src.backup(dst, pages=-1 if wal else STEP_PAGES, sleep=0.05)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            rows = [r[0] for r in dst.execute("PRAGMA integrity_check").fetchall()]
            if rows != ["ok"]:
                raise BackupError(f"{source}: the copy failed its integrity check ({'; '.join(rows[:3])}); "
                                  "run `homeroom db check`")
        finally:
            dst.close()
        with open(partial, "rb+") as fh:  # on disk before it gets its final name
            os.fsync(fh.fileno())
        os.replace(partial, dest)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} to {dest} failed: {exc}") from None
    finally:
        src.close()
        partial.unlink(missing_ok=True)
    return dest


async def backup(source: Path, dest: Path) -> Path:
    """`backup_file` on a worker thread: the event loop keeps answering families meanwhile."""
    return await asyncio.to_thread(backup_file, source, dest)


# -- restore -----------------------------------------------------------------------------
def restore_file(backup_path: Path, target: Path, *, force: bool = False,
                 pid_path: Path | None = None) -> RestoreResult:
    """Replace `target` with the backup. Refuses (BackupError) when the backup fails its
    integrity check, when a bot has the target open, or — without `force` — when the target's
    schema is newer than the backup's (or the backup's newer than this Homeroom). The replaced
    file is kept as `<target>.before-restore` (`.1`, `.2` … when that exists)."""
    from bot.storage.migrations import LATEST

    backup_path, target = Path(backup_path), Path(target)
    if backup_path.resolve() == target.resolve():
        raise BackupError(f"{backup_path}: that is the database itself")
    if not backup_path.is_file():
        raise BackupError(f"{backup_path}: no such file")
    checked = check_file(backup_path)
    if not checked.ok:
        raise BackupError(f"{backup_path} is damaged; not restoring it:\n  " + "\n  ".join(checked.problems[:10]))
    backup_version = schema_version_of(backup_path)
    replaced_version = schema_version_of(target) if target.exists() else None
    if not force:
        if replaced_version is not None and replaced_version > backup_version:
            raise BackupError(
                f"{target} has schema version {replaced_version}, newer than the backup's {backup_version}: "
                "restoring would lose what the newer version added. Use --force to restore it anyway "
                "(the bot will then migrate the backup up again when it starts).")
        if backup_version > LATEST:
            raise BackupError(f"{backup_path} was made by a newer Homeroom (schema {backup_version}; this one "
                              f"knows up to {LATEST}); upgrade Homeroom first, or use --force.")
    if pid_path is not None:
        running = pidfile.running_pid(pid_path)
        if running is not None:
            raise BackupError(f"the bot is running (pid {running}); stop it before restoring")

    staged = target.with_name(target.name + ".restoring")
    staged.unlink(missing_ok=True)
    try:
        src = _connect(backup_path, readonly=True)
        try:
            dst = sqlite3.connect(str(staged), isolation_level=None)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        kept = None
        if target.exists():
            _settle(target)  # refuses while open elsewhere; folds the WAL into the file we keep
            kept = _free_name(target.with_name(target.name + ".before-restore"))
            os.replace(target, kept)
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(staged, target)
    except sqlite3.Error as exc:
        raise BackupError(f"restore of {backup_path} failed: {exc}") from None
    finally:
        staged.unlink(missing_ok=True)
    log.info("db.restored backup=%s target=%s kept=%s", backup_path, target, kept)
    return RestoreResult(target, kept, backup_version, replaced_version)


def _settle(target: Path) -> None:
    """Leave WAL mode on `target`. SQLite allows that only when no other connection (in any
    process) has the file open, so this is also the check that the bot is stopped."""
    conn = sqlite3.connect(str(target), isolation_level=None, timeout=0)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise BackupError(f"{target} is in use ({exc}): stop the bot (and any `homeroom` command using it) "
                          "before restoring") from None
    finally:
        conn.close()
    if str(mode).lower() != "delete":
        raise BackupError(f"{target} is in use: stop the bot before restoring")


def _free_name(path: Path) -> Path:
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


# -- nightly backups ---------------------------------------------------------------------
def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.data_dir / "backups"


def backup_name(moment: datetime) -> str:
    return f"homeroom-{moment.astimezone(timezone.utc).strftime(_STAMP)}.sqlite3"


def list_backups(directory: Path) -> list[tuple[datetime, Path]]:
    """Nightly backups in `directory`, oldest first (other files are not ours and left alone)."""
    found = []
    if Path(directory).is_dir():
        for path in Path(directory).iterdir():
            match = _NAME_RE.match(path.name)
            if match and path.is_file():
                found.append((datetime.strptime(match.group(1), _STAMP).replace(tzinfo=timezone.utc), path))
    return sorted(found)


def last_backup(directory: Path) -> datetime | None:
    backups = list_backups(directory)
    return backups[-1][0] if backups else None


def rotate(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` nightly backups; returns what was deleted."""
    backups = list_backups(directory)
    doomed = [path for _, path in backups[:-keep]] if keep > 0 else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


async def backup_if_due(settings: Settings, now: datetime) -> Path | None:
    """Take a nightly backup when none is newer than BACKUP_EVERY; returns the file written."""
    if settings.backup_keep <= 0 or not Path(settings.db_path).exists():
        return None
    directory = backup_dir(settings)
    last = last_backup(directory)
    if last is not None and now - last < BACKUP_EVERY:
        return None
    path = await backup(settings.db_path, directory / backup_name(now))
    deleted = await asyncio.to_thread(rotate, directory, settings.backup_keep)
    log.info("db.backup file=%s size=%d rotated=%d", path.name, path.stat().st_size, len(deleted))
    return path


async def backup_loop(settings: Settings, stop: asyncio.Event, clock: Callable[[], datetime] = utcnow,
                      interval: float = CHECK_EVERY) -> None:
    """Until `stop`: a backup at start-up when none is recent, then one every BACKUP_EVERY.
    A failed backup is logged (and shows in `homeroom status` once the last one is old); the
    bot goes on. Does nothing when HOMEROOM_BACKUP_KEEP is 0."""
    if settings.backup_keep <= 0:
        return
    while not stop.is_set():
        try:
            await backup_if_due(settings, clock())
        except (BackupError, OSError) as exc:
            log.error("db.backup_failed dir=%s error=%s", backup_dir(settings), exc)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
