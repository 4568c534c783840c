"""The SQLite connection: pragmas, migrations, and units of work that never interleave.

One aiosqlite connection serves the whole process. Storage code is plain sqlite3 functions;
`Database.run(fn)` runs one on aiosqlite's worker thread and `Database.transact(fn)` wraps it
in `BEGIN IMMEDIATE` … `COMMIT`. Units run one at a time (an asyncio lock), so a read-then-write
can't race another coroutine's write and SQLite never answers "database is locked" to us.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

import aiosqlite

from bot.storage.migrations import LATEST, MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Homeroom; running old code on it could corrupt it."""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Future[None] | None = None
        self._flushing = False

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, migrate: bool = True) -> "Database":
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._conn = await aiosqlite.connect(str(self.path), isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "busy_timeout=5000", "synchronous=NORMAL", "foreign_keys=ON"):
            await self._conn.execute(f"PRAGMA {pragma}")
        try:
            if migrate:
                await self.migrate()
            else:
                await self._check_not_newer()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Close the connection; aiosqlite's worker thread would otherwise keep the process alive."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher  # let committed-or-not answers reach their callers first
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> "Database":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sqlite3_connection, *args)` on aiosqlite's worker thread in one hop.

        A whole unit of work (several statements) then costs one thread round trip instead of
        one per statement, which is what lets the engine pass 1,000 messages/s. It uses
        aiosqlite's `_execute` queue (the same one its public methods use), pinned by our
        version range."""
        async with self._lock:
            raw = self.conn._conn
            return await self.conn._execute(fn, raw, *args)

    async def transact(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sqlite3_connection, *args)` atomically and durably (committed when this returns).

        Group commit: units that arrive while a commit is in flight are run together in the
        next `BEGIN IMMEDIATE` … `COMMIT`, each inside its own SAVEPOINT — a unit that raises
        is rolled back alone and its caller gets the exception; the others still commit.
        Under load many families' turns share one trip to the database thread and one commit."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, args, future))
        if not self._flushing:
            # nobody is committing: this caller commits what is pending now (no extra task hop);
            # whatever arrives meanwhile is committed by a background flusher after it
            self._flushing = True
            try:
                await self._flush_once()
            finally:
                self._flushing = False
            if self._pending:
                self._flusher = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending:
                await self._flush_once()
        finally:
            self._flushing = False

    async def _flush_once(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            try:
                async with self._lock:
                    outcomes = await self.conn._execute(_run_batch, self.conn._conn,
                                                        [(fn, args) for fn, args, _ in batch])
            except BaseException as exc:  # the connection itself failed: every unit learns why
                outcomes = [(False, exc)] * len(batch)
            for (_, _, future), (ok, value) in zip(batch, outcomes):
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)

    async def schema_version(self) -> int:
        return await self.run(_schema_version)

    async def _check_not_newer(self) -> int:
        current = await self.schema_version()
        if current > LATEST:
            raise SchemaTooNewError(
                f"{self.path}: database schema is version {current}, this Homeroom knows up to "
                f"{LATEST}. Upgrade Homeroom, or restore a backup made by this version.")
        return current

    async def migrate(self) -> list[int]:
        """Apply the missing migrations, each in its own transaction. Returns the versions applied."""
        current = await self._check_not_newer()
        applied: list[int] = []
        for version, description, sql in MIGRATIONS:
            if version <= current:
                continue
            await self.transact(_apply, version, description, sql)
            log.info("db.migrated version=%s", version)
            applied.append(version)
        return applied


def _run_batch(raw: sqlite3.Connection,
               units: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """One transaction for a batch of units, each in a SAVEPOINT (runs on the database thread)."""
    outcomes: list[tuple[bool, Any]] = []
    raw.execute("BEGIN IMMEDIATE")
    try:
        for fn, args in units:
            raw.execute("SAVEPOINT unit")
            try:
                result = fn(raw, *args)
            except Exception as exc:
                raw.execute("ROLLBACK TO unit")
                raw.execute("RELEASE unit")
                outcomes.append((False, exc))
            else:
                raw.execute("RELEASE unit")
                outcomes.append((True, result))
        raw.execute("COMMIT")
    except BaseException as exc:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        return [(False, exc)] * len(units)
    return outcomes


def _schema_version(conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone() is None:
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, version: int, description: str, sql: str) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                 " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for statement in _split_sql(sql):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                 (version, description, datetime.now(timezone.utc).isoformat()))


def _split_sql(script: str) -> list[str]:
    """A migration's statements, split where SQLite itself says a statement is complete
    (so a trigger body's inner ';' does not cut it)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer.strip())
            buffer = ""
    return statements
