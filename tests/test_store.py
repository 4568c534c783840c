"""The SQLite store: migrations, refusal of a newer schema, durability across close and SIGKILL."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from bot.storage import Database, SchemaTooNewError, conversations, families
from bot.storage.db import _apply as apply_migration
from bot.storage.migrations import LATEST, MIGRATIONS


async def test_migrates_from_empty_and_rerun_is_noop(tmp_path):
    path = tmp_path / "h.sqlite3"
    async with Database(path) as db:
        assert await db.schema_version() == LATEST
        assert await db.migrate() == []  # nothing left to apply
    async with Database(path) as db:
        assert await db.migrate() == []
        assert await db.run(lambda c: c.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]) == len(MIGRATIONS)


async def test_pragmas_are_set(tmp_path):
    async with Database(tmp_path / "h.sqlite3") as db:
        def pragma(conn, name):
            return conn.execute(f"PRAGMA {name}").fetchone()[0]
        assert await db.run(pragma, "journal_mode") == "wal"
        assert await db.run(pragma, "foreign_keys") == 1
        assert await db.run(pragma, "busy_timeout") == 5000


async def test_database_from_the_future_is_refused(tmp_path):
    path = tmp_path / "h.sqlite3"
    async with Database(path):
        pass
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_version VALUES (?, 'from the future', '2099-01-01')", (LATEST + 1,))
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNewError, match="Upgrade Homeroom"):
        await Database(path).open()


async def test_failed_transaction_rolls_back(tmp_path):
    async with Database(tmp_path / "h.sqlite3") as db:
        def fail(conn):
            families.create(conn, "t", "u1", "c1", None, "en", "default", "2026-01-01")
            raise RuntimeError("boom")
        with pytest.raises(RuntimeError):
            await db.transact(fail)
        assert await db.run(families.find, "t", "u1") is None


async def test_state_survives_close_and_reopen(tmp_path):
    path = tmp_path / "h.sqlite3"
    async with Database(path) as db:
        def write(conn):
            fam = families.create(conn, "t", "u1", "c1", "Ana", "es", "explicit", "2026-01-01")
            state = conversations.ConversationState(fam.id, flow="language", data={"volunteer": {"k": "ñ"}}, misses=1)
            conversations.save(conn, state, "2026-01-01")
        await db.transact(write)
    async with Database(path) as db:
        fam = await db.run(families.find, "t", "u1")
        state = await db.run(conversations.load, fam.id)
    assert (fam.language, fam.display_name) == ("es", "Ana")
    assert (state.flow, state.data, state.misses) == ("language", {"volunteer": {"k": "ñ"}}, 1)


async def test_state_keys_live_in_their_owners_namespace(tmp_path):
    """A flow ending (drop) leaves the hand-off's ticket alone; a key outside a namespace is refused."""
    async with Database(tmp_path / "h.sqlite3") as db:
        def write(conn):
            fam = families.create(conn, "t", "u1", "c1", None, "en", "default", "2026-01-01")
            state = conversations.ConversationState(fam.id)
            state.space(conversations.HANDOFF)["ticket"] = 7
            state.space("volunteer")["opp"] = "library"
            assert dict(state.peek("absence")) == {} and "absence" not in state.data  # peeking creates nothing
            state.drop("volunteer")
            conversations.save(conn, state, "2026-01-01")
            state.data["ticket"] = 8
            with pytest.raises(ValueError, match="outside an owner's namespace: \\['ticket'\\]"):
                conversations.save(conn, state, "2026-01-01")
            return fam.id
        family_id = await db.transact(write)
        state = await db.run(conversations.load, family_id)
    assert state.data == {"handoff": {"ticket": 7}}
    with pytest.raises(TypeError):
        state.peek("handoff")["ticket"] = 9  # read-only: changes go through space()


async def test_migration_15_moves_flat_state_keys_to_their_owners(tmp_path):
    """A database from before namespaces: the open ticket, the language asked about and a pending
    /forgetme token survive the upgrade, under their owners; a flow's own dict is untouched."""
    path = tmp_path / "h.sqlite3"
    con = sqlite3.connect(path)
    for version, description, sql in MIGRATIONS:
        if version < 15:
            apply_migration(con, version, description, sql)
    con.execute("INSERT INTO families (id, channel, channel_user_id, chat_id, language, language_source, created_at,"
                " last_seen_at) VALUES (1, 't', 'u1', 'c1', 'es', 'default', '2026-01-01', '2026-01-01')")
    old = {"ticket": 12, "ticket_acked": True, "asked_lang": "so", "declined_lang": "vi", "forgetme": "ab12cd34",
           "volunteer": {"opp": "library"}, "stray": "from some older version", "gone": None}
    con.execute("INSERT INTO conversation_state (family_id, flow, data, misses, choices, updated_at, version)"
                " VALUES (1, 'volunteer', ?, 0, '[]', '2026-01-01', 3)", (json.dumps(old),))
    con.commit()
    con.close()
    async with Database(path) as db:
        state = await db.run(conversations.load, 1)
    assert state.data == {"handoff": {"ticket": 12, "acked": True}, "language": {"asked": "so", "declined": "vi"},
                          "forgetme": {"token": "ab12cd34"}, "volunteer": {"opp": "library"}}  # strays dropped


def test_migrations_use_only_sql_older_sqlite_understands():
    """Some distributions' Python links SQLite 3.37 (Ubuntu 22.04): no `->`/`->>` JSON operators (3.38)."""
    import re

    assert [v for v, _, sql in MIGRATIONS if re.search(r"->>?", re.sub(r"--[^\n]*", "", sql))] == []


WRITER = textwrap.dedent("""
    import asyncio, sys
    from bot.storage import Database, families
    async def main():
        db = await Database(sys.argv[1]).open()
        i = 0
        while True:
            await db.transact(families.create, "t", f"u{i}", "c", None, "en", "default", "2026-01-01")
            print(i, flush=True)
            i += 1
    asyncio.run(main())
""")


def test_sigkill_mid_write_loses_nothing_committed(tmp_path):
    path = tmp_path / "h.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    committed = -1
    deadline = time.monotonic() + 30
    while committed < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert committed >= 200, "writer did not get going"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT COUNT(*) FROM families").fetchone()[0]
    con.close()
    # every transaction the writer reported as committed is there (it may have committed one more)
    assert rows >= committed + 1


async def test_group_commit_failing_unit_rolls_back_alone(tmp_path):
    async with Database(tmp_path / "h.sqlite3") as db:
        def good(conn, i):
            families.create(conn, "t", f"ok{i}", "c", None, "en", "default", "2026-01-01")
            return i

        def bad(conn):
            families.create(conn, "t", "bad", "c", None, "en", "default", "2026-01-01")
            raise ValueError("nope")

        units = [db.transact(good, i) for i in range(20)] + [db.transact(bad)] + \
                [db.transact(good, i) for i in range(20, 40)]
        results = await asyncio.gather(*units, return_exceptions=True)
        assert results[:20] == list(range(20)) and results[21:] == list(range(20, 40))
        assert isinstance(results[20], ValueError)
        names = await db.run(lambda c: {r[0] for r in c.execute("SELECT channel_user_id FROM families")})
        assert names == {f"ok{i}" for i in range(40)}


async def test_stale_state_is_detected(tmp_path):
    async with Database(tmp_path / "h.sqlite3") as db:
        def setup(conn):
            fam = families.create(conn, "t", "u", "c", None, "en", "default", "2026-01-01")
            conversations.save(conn, conversations.ConversationState(fam.id), "2026-01-01")
            return fam.id
        fid = await db.transact(setup)
        mine = await db.run(conversations.load, fid)
        theirs = await db.run(conversations.load, fid)
        await db.transact(conversations.save, theirs, "2026-01-02")
        with pytest.raises(conversations.StaleState):
            await db.transact(conversations.save, mine, "2026-01-03")


async def test_family_and_ticket_numbers_are_never_reused_after_deletion(tmp_path):
    """Deleting the newest family or ticket (/forgetme, retention) must not hand its number to
    the next one: the audit log and Slack threads name them by number."""
    from bot.storage import families, numbers, tickets

    async with Database(tmp_path / "n.sqlite3") as db:
        now = "2026-11-22T10:00:00+00:00"
        first = await db.transact(families.create, "test", "a", "a", "A", "en", "default", now)
        second = await db.transact(families.create, "test", "b", "b", "B", "en", "default", now)
        ticket = await db.transact(tickets.create, second.id, "en", "general", "normal", "r", None, now)
        await db.transact(lambda c: c.execute("DELETE FROM tickets WHERE id = ?", (ticket,)))
        await db.transact(lambda c: c.execute("DELETE FROM families WHERE id = ?", (second.id,)))
        third = await db.transact(families.create, "test", "c", "c", "C", "en", "default", now)
        again = await db.transact(tickets.create, third.id, "en", "general", "normal", "r", None, now)
        assert (first.id, second.id, third.id) == (1, 2, 3)
        assert again == ticket + 1
        with pytest.raises(ValueError):
            await db.run(numbers.next_id, "audit_log")
