"""Families' data: retention (purge with a fake clock, text really gone from the file), export
and delete of one family, /privacy /mydata /forgetme through the engine, and the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app import start
from bot.channels.slack.sender import SlackSender
from bot.config import ConfigError, RetentionPolicy, Settings, SlackProfile, load_school_profile
from bot.core.messages import Incoming
from bot.handoff import STAFF_CHANNEL
from bot.i18n import Locales
from bot.outbox_messages import TicketContext, TicketThread
from bot.privacy import retention
from bot.privacy.family_data import FamilyNotFound, delete_family, export_family
from bot.signups import booking
from bot.storage import Database, audit, conversations, families, outbox, tickets
from conftest import PYTHON, ROOT, cli_env
from support import Parent

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)  # Tuesday 10:00 at the sample school
POLICY = RetentionPolicy()  # 180 / 730 / 30 days

SIGNUPS = """
opportunities:
  - id: tiny
    title: Tiny shift
    location: Room 1
    shifts:
      - {start: 2026-12-10 09:00, end: 2026-12-10 10:00, capacity: 1}
"""


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def settings_for(tmp_path: Path, signups: str | None = SIGNUPS, **extra: str) -> Settings:
    env = {"HOMEROOM_DATA_DIR": str(tmp_path / "data"), **extra}
    if signups is not None:
        folder = tmp_path / "signups"
        folder.mkdir(exist_ok=True)
        (folder / "school.yaml").write_text(signups, encoding="utf-8")
        env["HOMEROOM_SIGNUPS_DIR"] = str(folder)
    return Settings.from_env(env)


@pytest.fixture
async def app(tmp_path):
    homeroom = await start(settings_for(tmp_path))
    homeroom.engine.clock = lambda: NOW
    yield homeroom
    await homeroom.close()


async def rows(db, sql: str, *args) -> list[tuple]:
    return await db.run(lambda c: [tuple(r) for r in c.execute(sql, args).fetchall()])


async def book(parent: Parent) -> None:
    """Walk a parent through a volunteer sign-up for the one tiny shift."""
    await parent.say("/volunteer")
    await parent.tap("volunteer:opp:tiny")
    await parent.tap(parent.button("volunteer:shift:"))
    await parent.tap("volunteer:name")
    await parent.tap(parent.button("volunteer:confirm:"))
    assert "signed up" in parent.text or "waitlist" in parent.text, parent.text


# -- the policy in the school profile -------------------------------------------------------

def _profile(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "school.toml"
    path.write_text('[info]\nschool_name = "Test School"\n' + table, encoding="utf-8")
    return path


def test_retention_defaults_and_table(tmp_path):
    assert load_school_profile(_profile(tmp_path, "")).retention == RetentionPolicy(180, 730, 30)
    custom = load_school_profile(_profile(tmp_path, "[retention]\nmessages_days = 90\nsignups_days = 7\n"))
    assert custom.retention == RetentionPolicy(90, 730, 7)


@pytest.mark.parametrize("table, key", [
    ("messages_days = 0", "messages_days"), ("tickets_days = \"two years\"", "tickets_days"),
    ("signups_days = 1.5", "signups_days"), ("signups_days = true", "signups_days"),
    ("audit_days = 30", "audit_days"), ("message_days = 30", "message_days")])
def test_invalid_retention_values_name_the_key(tmp_path, table, key):
    with pytest.raises(ConfigError, match=key):
        load_school_profile(_profile(tmp_path, f"[retention]\n{table}\n"))


# -- purge ----------------------------------------------------------------------------------

def build_rows(conn: sqlite3.Connection) -> None:
    """Rows on both sides of every cutoff. Names say which must go ('old') and which stay."""
    x = conn.execute
    for fid, seen in ((1, ago(1)), (2, ago(400)), (3, ago(400))):
        x("INSERT INTO families (id, channel, channel_user_id, chat_id, display_name, language, created_at,"
          " last_seen_at) VALUES (?, 'test', ?, ?, ?, 'en', ?, ?)", (fid, f"u{fid}", f"c{fid}", f"F{fid}", seen, seen))
    x("INSERT INTO conversation_state (family_id, updated_at) VALUES (2, ?)", (ago(400),))
    for mid, fid, at, text in ((1, 1, ago(181), "old message"), (2, 1, ago(179), "new message"),
                               (3, 3, ago(500), "old message of family 3")):
        x("INSERT INTO messages (id, family_id, direction, text, translation, created_at) VALUES (?, ?, 'in', ?, ?, ?)",
          (mid, fid, text, text, at))
    # tickets: 1 resolved long ago (goes), 2 resolved recently, 3 open and old (never purged), 4 (family 3) old
    for tid, fid, status, resolved in ((1, 1, "resolved", ago(731)), (2, 1, "resolved", ago(100)),
                                       (3, 1, "open", None), (4, 3, "resolved", ago(800))):
        x("INSERT INTO tickets (id, family_id, language, topic, priority, status, reason, created_at, updated_at,"
          " resolved_at) VALUES (?, ?, 'en', 'general', 'normal', ?, 'r', ?, ?, ?)",
          (tid, fid, status, ago(900), ago(900), resolved))
        x("INSERT INTO ticket_events (ticket_id, kind, author, text, created_at) VALUES (?, 'parent', 'family', 'e', ?)",
          (tid, ago(900)))
    for oid, target, status, tid, at in ((1, "c1", "sent", None, ago(200)), (2, "c1", "sent", None, ago(10)),
                                         (3, "c1", "pending", None, ago(200)), (4, "ticket:1", "sent", 1, ago(10)),
                                         (5, "c1", "dead", None, ago(181))):
        x("INSERT INTO outbox (id, channel, target, kind, ticket_id, payload, status, next_attempt_at, created_at,"
          " sent_at) VALUES (?, 'test', ?, 'message', ?, '{\"text\": \"hi\"}', ?, ?, ?, ?)",
          (oid, target, tid, status, at, at, at if status == "sent" else None))
    for uid, handled, received in ((1, ago(181), ago(181)), (2, ago(1), ago(1)), (3, None, ago(1))):
        x("INSERT INTO inbox (channel, update_id, chat_id, payload, received_at, handled_at) VALUES"
          " ('telegram', ?, 'c1', ?, ?, ?)", (uid, None if handled else '{"text": "hi"}', received, handled))
    x("INSERT INTO processed_events VALUES ('slack', 'Ev-old', ?)", (ago(181),))
    x("INSERT INTO processed_events VALUES ('slack', 'Ev-new', ?)", (ago(1),))
    x("INSERT INTO signup_opportunities (id, title, updated_at) VALUES ('o', 'O', ?)", (ago(1),))
    for sid, ends in ((1, ago(31)), (2, ago(29)), (3, ago(-5))):
        x("INSERT INTO signup_shifts (id, opportunity_id, key, starts_at, ends_at, tz, capacity) VALUES"
          " (?, 'o', ?, ?, ?, 'UTC', 5)", (sid, f"k{sid}", ends, ends))
        x("INSERT INTO signup_bookings (id, family_id, kind, shift_id, name, language, status, created_at,"
          " updated_at) VALUES (?, 1, 'volunteer', ?, 'Name', 'en', 'confirmed', ?, ?)", (sid, sid, ago(60), ago(60)))
        x("INSERT INTO signup_reminders (booking_id, sent_at) VALUES (?, ?)", (sid, ago(40)))
    for aid, last in ((1, ago(181)), (2, ago(10))):  # absences: kept messages_days after the last day absent
        day = last[:10]
        x("INSERT INTO absences (id, family_id, child, language, days, first_day, last_day, reason, reported_at, key)"
          " VALUES (?, 1, 'Child', 'en', ?, ?, ?, 'sick', ?, ?)", (aid, day, day, day, last, f"k{aid}"))


async def ids(db: Database) -> dict[str, list]:
    keys = {"messages": "id", "inbox": "update_id", "outbox": "id", "processed_events": "event_id",
            "ticket_events": "ticket_id", "tickets": "id", "signup_reminders": "booking_id",
            "signup_bookings": "id", "absences": "id", "conversation_state": "family_id", "families": "id",
            "audit_log": "id"}
    return {t: [r[0] for r in await rows(db, f"SELECT {k} FROM {t} ORDER BY {k}")] for t, k in keys.items()}


async def test_purge_removes_exactly_the_expired_rows_and_dry_run_nothing(tmp_path):
    db = await Database(tmp_path / "h.sqlite3").open()
    try:
        await db.transact(build_rows)
        await db.transact(audit.record, "sam", "view", "ticket 1", ago(5000))
        before = await ids(db)
        expected = {"messages": 2, "inbox": 1, "outbox": 3, "processed_events": 1, "ticket_events": 2,
                    "tickets": 2, "signup_reminders": 1, "signup_bookings": 1, "absences": 1,
                    "conversation_state": 1, "families": 2}
        assert await retention.run_purge(db, POLICY, NOW, dry_run=True) == expected
        assert await ids(db) == before
        assert await retention.run_purge(db, POLICY, NOW) == expected
        assert await ids(db) == {
            "messages": [2], "inbox": [2, 3], "outbox": [2, 3], "processed_events": ["Ev-new"],
            "ticket_events": [2, 3], "tickets": [2, 3], "signup_reminders": [2, 3], "signup_bookings": [2, 3],
            "absences": [2],
            # family 2 was idle with nothing left, family 3's last data just expired; 1 is active
            "conversation_state": [], "families": [1], "audit_log": before["audit_log"]}
        assert set(await retention.run_purge(db, POLICY, NOW)) == set(retention.TABLES)
        assert sum((await retention.run_purge(db, POLICY, NOW)).values()) == 0  # nothing more
    finally:
        await db.close()


async def test_purge_on_a_plain_connection_commits_itself(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = await Database(path).open()
    await db.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        build_rows(conn)
    assert retention.purge(conn, POLICY, NOW)["messages"] == 2
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
    conn.close()


async def test_purged_text_is_gone_from_the_database_file_and_wal(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = await Database(path).open()
    gone, kept = "MARKER-8d1f-purged-text", "MARKER-77aa-kept-text"
    try:
        await db.transact(lambda c: c.execute(
            "INSERT INTO families (id, channel, channel_user_id, chat_id, created_at, last_seen_at)"
            " VALUES (1, 'test', 'u', 'c', ?, ?)", (ago(1), ago(1))))
        for text, at in ((gone, ago(200)), (kept, ago(1))):
            await db.transact(lambda c, t=text, a=at: c.execute(
                "INSERT INTO messages (family_id, direction, text, translation, created_at)"
                " VALUES (1, 'in', ?, ?, ?)", (t, t + "-translated", a)))
        await db.run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        assert gone.encode() in path.read_bytes()  # it is in the file before the purge
        await db.transact(lambda c: c.execute("SELECT 1").fetchall())  # a write transaction after

        counts = await retention.run_purge(db, POLICY, NOW)
        assert counts["messages"] == 1
    finally:
        await db.close()
    wal = Path(str(path) + "-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert gone.encode() not in raw and (gone + "-translated").encode() not in raw
    assert kept.encode() in raw  # we did read the real file


async def test_retention_loop_purges_until_stopped(tmp_path):
    import asyncio

    db = await Database(tmp_path / "h.sqlite3").open()
    try:
        await db.transact(build_rows)
        stop = asyncio.Event()
        task = asyncio.ensure_future(retention.retention_loop(db, POLICY, stop, clock=lambda: NOW, interval=3600))
        for _ in range(200):
            if not await rows(db, "SELECT id FROM messages WHERE id = 1"):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)
        assert [r[0] for r in await rows(db, "SELECT id FROM messages")] == [2]
    finally:
        await db.close()


async def test_audit_log_refuses_update_and_delete(tmp_path):
    db = await Database(tmp_path / "h.sqlite3").open()
    try:
        await db.transact(audit.record, "sam", "view", "ticket 1", ago(1))
        for sql in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                await db.transact(lambda c, s=sql: c.execute(s))
        assert await rows(db, "SELECT actor, action FROM audit_log") == [("sam", "view")]
    finally:
        await db.close()


# -- export and delete ----------------------------------------------------------------------

async def test_export_and_delete_one_family_cancels_promotes_closes_and_leaves_others(app):
    ana, ben = Parent(app, "ana", "Ana Diaz"), Parent(app, "ben", "Ben Okoro")
    await book(ana)
    await book(ben)  # the shift holds one: Ben waits
    assert await rows(app.db, "SELECT name, status FROM signup_bookings ORDER BY id") == [
        ("Ana Diaz", "confirmed"), ("Ben Okoro", "waitlisted")]
    await ana.say("I need to talk to a person about my son's IEP")
    await ana.say("/human")
    await ben.say("what time does school start")
    a, b = await ana.family(), await ben.family()
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.family_id == a.id
    await app.db.transact(tickets.set_staff_ref, ticket.id, "C0TRIAGE:1700000000.0001")  # posted to Slack

    data = await app.db.run(export_family, a.id)
    json.dumps(data)  # JSON-ready
    assert data["family"]["display_name"] == "Ana Diaz" and data["language"] == "en"
    assert any("IEP" in m["text"] for m in data["messages"])
    assert data["tickets"][0]["status"] == "open" and data["tickets"][0]["events"][0]["from"] == "you"
    [signup] = data["signups"]
    assert (signup["what"], signup["status"], signup["name"]) == ("Tiny shift", "confirmed", "Ana Diaz")
    assert signup["starts_at"] == "2026-12-10T17:00:00+00:00"
    ben_before = await app.db.run(export_family, b.id)

    counts = await app.db.transact(delete_family, a.id, "it-admin", NOW.isoformat(),
                                   booking.Notifier(Locales(app.settings.locales_dir)))
    assert counts["signups_cancelled"] == 1 and counts["families_promoted"] == 1 and counts["tickets_closed"] == 1
    assert counts["families"] == 1 and counts["messages"] > 0 and counts["tickets"] == 1

    for table, column in (("families", "id"), ("messages", "family_id"), ("tickets", "family_id"),
                          ("signup_bookings", "family_id"), ("conversation_state", "family_id")):
        assert await rows(app.db, f"SELECT * FROM {table} WHERE {column} = ?", a.id) == [], table
    assert await rows(app.db, "SELECT * FROM ticket_events WHERE ticket_id = ?", ticket.id) == []
    assert await rows(app.db, "SELECT * FROM outbox WHERE channel = 'test' AND target = 'ana'") == []
    # Ben took the seat, is told so, and nothing else of his changed
    assert await rows(app.db, "SELECT name, status FROM signup_bookings") == [("Ben Okoro", "confirmed")]
    [(payload,)] = await rows(app.db, "SELECT payload FROM outbox WHERE channel = 'test' AND target = 'ben'")
    assert json.loads(payload)["msgid"] == booking.PROMOTED
    ben_after = await app.db.run(export_family, b.id)
    assert ben_after["messages"] == ben_before["messages"] and ben_after["family"] == ben_before["family"]
    # staff hear it in the ticket's thread (a row that survives the ticket)
    [(kind, target, ticket_id, note)] = await rows(
        app.db, "SELECT kind, target, ticket_id, payload FROM outbox WHERE channel = ?", STAFF_CHANNEL)
    assert (kind, target, ticket_id) == ("ticket_context", f"ticket:{ticket.id}", None)
    note = json.loads(note)
    assert note["staff_ref"] == "C0TRIAGE:1700000000.0001" and "deleted their data" in note["text"]
    # the audit log: who and which family number, no name, no text
    [entry] = [e for e in await app.db.run(audit.entries) if e[2] == "family.deleted"]
    assert entry[1:4] == ("it-admin", "family.deleted", f"family {a.id}")
    with pytest.raises(FamilyNotFound):
        await app.db.run(export_family, a.id)
    with pytest.raises(FamilyNotFound):
        await app.db.transact(delete_family, a.id, "it-admin", NOW.isoformat())


async def test_slack_posts_the_last_note_of_a_deleted_ticket_in_its_thread(tmp_path):
    calls = []

    class Client:
        async def chat_postMessage(self, **kwargs):
            calls.append(kwargs)
            return {"ok": True, "channel": kwargs["channel"], "ts": "1.2"}

    db = await Database(tmp_path / "h.sqlite3").open()
    try:
        sender = SlackSender(Client(), db, SlackProfile("C0TRIAGE"), pace=0)
        await sender(outbox.Item(1, STAFF_CHANNEL, "ticket:9", "ticket_context", None,
                                 TicketContext("The family deleted their data", "C0TRIAGE:1700.1"), 0))
        await sender(outbox.Item(2, STAFF_CHANNEL, "ticket:9", "ticket_thread", None, TicketThread("x", "en"), 0))
    finally:
        await db.close()
    [call] = calls  # the thread row of a gone ticket is still dropped
    assert (call["channel"], call["thread_ts"]) == ("C0TRIAGE", "1700.1")
    assert "deleted their data" in call["text"]


# -- the parent commands ----------------------------------------------------------------------

async def test_privacy_states_the_schools_retention_days(tmp_path):
    profile = tmp_path / "school.toml"
    text = (ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8")
    profile.write_text(text + "\n[retention]\nmessages_days = 90\ntickets_days = 400\nsignups_days = 14\n",
                       encoding="utf-8")
    homeroom = await start(settings_for(tmp_path, HOMEROOM_SCHOOL_PROFILE=str(profile)))
    try:
        parent = Parent(homeroom, "p")
        policy, exception = await parent.say("/privacy")
        for part in ("90 days", "400 days", "14 days", "/mydata", "/forgetme", "staff"):
            assert part in policy.text
        # the duty-of-care exception: an open urgent report outlives /forgetme until staff close it
        assert "urgent report" in exception.text and "until staff close it" in exception.text
        assert [c.payload for c in exception.choices] == ["mydata:show", "forgetme:ask", "menu"]
    finally:
        await homeroom.close()


async def test_mydata_summary_and_json_attachment(app):
    parent = Parent(app, "p", "Maria Lopez")
    await parent.say("what time does school start")
    await book(parent)
    [reply] = await parent.say("/mydata")
    assert "Messages: " in reply.text and "Sign-ups: 1" in reply.text and "English" in reply.text
    assert reply.attachment is not None and reply.attachment.filename == "my-data.json"
    data = json.loads(reply.attachment.content.decode("utf-8"))
    assert data["family"]["display_name"] == "Maria Lopez"
    assert data["messages"][0]["text"] == "what time does school start"
    assert data["signups"][0]["what"] == "Tiny shift"
    # a button from /privacy leads here too, and a brand-new family gets the summary without messages
    [again] = await Parent(app, "new").tap("mydata:show")
    assert "Messages: none" in again.text and again.attachment is not None


async def test_forgetme_asks_first_deletes_and_the_next_message_is_a_fresh_family(app):
    ana, ben = Parent(app, "ana", "Ana"), Parent(app, "ben", "Ben")
    await book(ana)
    await book(ben)
    await ana.say("/human")  # an open ticket: commands still reach the flows
    first = await ana.family()

    [ask] = await ana.say("/forgetme")
    assert "cannot be undone" in ask.text
    yes = ask.choices[0].payload
    assert yes.startswith("forgetme:yes:") and [c.payload for c in ask.choices][1:] == ["forgetme:no"]
    [kept] = await ana.tap("forgetme:no")
    assert "nothing was deleted" in kept.text and await ana.family() is not None
    [expired] = await ana.tap(yes)  # answered already: the button no longer deletes
    assert "expired" in expired.text and await ana.family() is not None

    await ana.say("/forgetme")
    done_yes = ana.button("forgetme:yes:")
    done = await ana.tap(done_yes)
    text = "\n".join(r.text for r in done)
    assert "is deleted" in text and "sign-ups were cancelled (1)" in text and "school staff was closed" in text
    assert "went wrong" not in text
    assert await ana.family() is None
    assert await rows(app.db, "SELECT COUNT(*) FROM messages WHERE family_id = ?", first.id) == [(0,)]
    assert await rows(app.db, "SELECT name, status FROM signup_bookings") == [("Ben", "confirmed")]
    assert ("family", "family.deleted", f"family {first.id}") in [e[1:4] for e in await app.db.run(audit.entries)]
    assert ("test", "ana") not in app.engine._cache

    # a stale Yes: no crash, nothing more deleted
    stale = await ana.tap(done_yes)
    assert "expired" in stale[0].text and "went wrong" not in stale[0].text
    # and a new message is a new family, answered normally
    replies = await ana.say("what time does school start")
    assert "went wrong" not in replies[0].text and "8:10" in replies[0].text
    fresh = await ana.family()
    assert fresh is not None and fresh.id != first.id
    assert await rows(app.db, "SELECT COUNT(*) FROM tickets WHERE family_id = ?", fresh.id) == [(0,)]


async def test_forgetme_leaves_what_the_family_wrote_in_neither_the_file_nor_the_wal(settings):
    """Not just unlinked: right after /forgetme the family's words are in no byte of the
    database file or its write-ahead log (without waiting for the daily purge)."""
    from bot.app import start

    marker = "MARKER-5c2e-my-daughter-Zainab-has-asthma"
    homeroom = await start(settings)
    try:
        ana = Parent(homeroom, "ana", "Ana")
        await ana.say(marker)
        await homeroom.db.run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        assert marker.encode() in settings.db_path.read_bytes()  # we do read the real file
        await ana.say("/forgetme")
        await ana.tap(ana.button("forgetme:yes:"))
        assert await ana.family() is None
        wal = Path(str(settings.db_path) + "-wal")
        raw = settings.db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert marker.encode() not in raw  # checked while the bot still runs, not after close
    finally:
        await homeroom.close()


async def test_a_family_deleted_elsewhere_mid_conversation_starts_fresh(app):
    parent = Parent(app, "p")
    await parent.say("/volunteer")  # in a flow, cached by the engine
    family = await parent.family()
    assert ("test", "p") in app.engine._cache
    await app.db.transact(delete_family, family.id, "it-admin", NOW.isoformat())  # e.g. the CLI
    replies = await parent.say("what time does school start")
    assert "went wrong" not in replies[0].text and "8:10" in replies[0].text
    fresh = await parent.family()  # SQLite may give it the same number again; it is a new row
    assert fresh is not None
    state = await app.db.run(conversations.load, fresh.id)
    assert state.flow is None and "volunteer" not in state.data
    assert await rows(app.db, "SELECT direction FROM messages WHERE family_id = ?", fresh.id) == [("in",), ("out",)]


# -- the command line ---------------------------------------------------------------------------

def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env=cli_env(tmp_path, **env), timeout=120)


async def test_cli_purge_export_delete_and_audit(tmp_path):
    settings = settings_for(tmp_path, None)
    homeroom = await start(settings)
    try:
        await Parent(homeroom, "ana", "Ana").say("what time does school start")
        await Parent(homeroom, "ben", "Ben").say("hello")
        ana = await homeroom.db.run(families.find, "test", "ana")
        ben = await homeroom.db.run(families.find, "test", "ben")
        await homeroom.db.transact(lambda c: c.execute(  # one old message of Ben's expires
            "INSERT INTO messages (family_id, direction, text, created_at) VALUES (?, 'in', 'old', ?)",
            (ben.id, "2020-01-01T00:00:00+00:00")))
    finally:
        await homeroom.close()

    dry = run(tmp_path, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove 1" in dry.stdout and "nothing was deleted" in dry.stdout
    real = run(tmp_path, "purge")
    assert real.returncode == 0 and "messages" in real.stdout and "removed 1" in real.stdout
    assert "removed 0" in run(tmp_path, "purge").stdout.splitlines()[1]

    export = run(tmp_path, "family", "export", str(ana.id), "--as", "alice")
    assert export.returncode == 0, export.stderr
    data = json.loads(export.stdout)
    assert data["family"]["display_name"] == "Ana" and data["messages"][0]["text"] == "what time does school start"

    refused = run(tmp_path, "family", "delete", str(ana.id))  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deleted = run(tmp_path, "family", "delete", str(ana.id), "--yes", "--as", "alice")
    assert deleted.returncode == 0, deleted.stderr
    assert f"family {ana.id} deleted" in deleted.stdout
    missing = run(tmp_path, "family", "export", str(ana.id))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert json.loads(run(tmp_path, "family", "export", str(ben.id), "--as", "bob").stdout)["family"]["id"] == ben.id

    assert run(tmp_path, "signups", "export", "--csv").returncode == 0
    log = run(tmp_path, "audit", "--limit", "10")
    assert log.returncode == 0
    lines = log.stdout.splitlines()
    assert "signups.export" in lines[0]  # newest first
    assert any("alice" in line and "family.deleted" in line and f"family {ana.id}" in line for line in lines)
    assert any("alice" in line and "family.exported" in line for line in lines)
    assert "Ana" not in log.stdout
    assert run(tmp_path, "audit", "--limit", "0").returncode == 2


async def test_privacy_names_slack_only_when_the_school_uses_it(app):
    from bot.core.messages import Incoming

    reply, _ = await app.engine.handle(Incoming("test", "p-priv", "p-priv", "/privacy"))
    assert app.profile.slack is None
    assert "in the school's own tools" in reply.text and "Slack" not in reply.text
