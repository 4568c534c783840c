"""Operating Homeroom: backups taken while the bot writes, restores that refuse what they should,
`db check`, status and `/healthz` green and red, catalog reload without restart, the pid file."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import start
from bot.config import ConfigError, Settings
from bot.core.messages import utcnow
from bot.ops import backup as ops_backup
from bot.ops import cli as ops_cli
from bot.ops import pidfile
from bot.ops.health import add_health_route, health_app
from bot.ops.reload import RESULT_NAME, install_reload_signal, reload
from bot.ops.status import ChannelHealth, gather_status
from bot.outbox_messages import FamilyMessage, TicketNew
from bot.storage import families, outbox, tickets
from bot.storage.migrations import LATEST
from conftest import PYTHON, ROOT, cli_env
from support import msg

NEW_EXAMPLE = "zorblax quuxington fizzbang"


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bot", *args], cwd=ROOT, env=cli_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=120)


# -- backup and restore ------------------------------------------------------------------
async def test_backup_while_the_bot_writes_restores_everything_committed_before_it(app, settings, tmp_path):
    for n in range(15):
        await app.engine.handle(msg("what time does school start", user=f"before{n}"))
    families_before = rows(settings.db_path, "SELECT * FROM families ORDER BY id")
    messages_before = rows(settings.db_path, "SELECT * FROM messages ORDER BY id")

    stop, writing = asyncio.Event(), asyncio.Event()
    written = 0

    async def writer():
        nonlocal written
        while not stop.is_set():
            await app.engine.handle(msg("is there school tomorrow", user=f"during{written}"))
            await app.db.transact(lambda c, n=written: c.execute(
                "INSERT INTO audit_log (actor, action, subject, at) VALUES ('test', 'write', ?, ?)",
                (str(n), utcnow().isoformat())))
            written += 1
            writing.set()

    (tmp_path / "backups").mkdir()
    task = asyncio.create_task(writer())
    await writing.wait()  # the writer is mid-stream when the backup starts
    target = await ops_backup.backup(settings.db_path, tmp_path / "backups")
    await asyncio.sleep(0)
    stop.set()
    await task
    assert written >= 1

    assert target.parent == tmp_path / "backups" and target.name.startswith("homeroom-")
    restored = tmp_path / "restored.sqlite3"
    result = ops_backup.restore_file(target, restored)
    assert result.kept is None and result.backup_version == LATEST
    assert ops_backup.check_file(restored).ok
    ids = (families_before[-1][0], messages_before[-1][0])
    assert rows(restored, f"SELECT * FROM families WHERE id <= {ids[0]} ORDER BY id") == families_before
    assert rows(restored, f"SELECT * FROM messages WHERE id <= {ids[1]} ORDER BY id") == messages_before
    # a consistent snapshot: every message in the copy has its family, every audit row its number
    assert rows(restored, "SELECT COUNT(*) FROM messages WHERE family_id NOT IN (SELECT id FROM families)") == [(0,)]


async def test_restore_refuses_while_the_database_is_open_and_keeps_the_replaced_file(settings, tmp_path):
    app = await start(settings)
    await app.engine.handle(msg("bus times", user="p1"))
    good = ops_backup.backup_file(settings.db_path, tmp_path / "good.sqlite3")
    await app.engine.handle(msg("lunch menu", user="p2"))  # after the backup
    with pytest.raises(ops_backup.BackupError, match="in use"):
        ops_backup.restore_file(good, settings.db_path)
    await app.close()

    result = ops_backup.restore_file(good, settings.db_path)
    assert result.kept == settings.db_path.with_name("homeroom.sqlite3.before-restore")
    assert rows(settings.db_path, "SELECT channel_user_id FROM families") == [("p1",)]
    assert {r[0] for r in rows(result.kept, "SELECT channel_user_id FROM families")} == {"p1", "p2"}
    again = ops_backup.restore_file(good, settings.db_path)  # a second restore never overwrites the first copy
    assert again.kept.name == "homeroom.sqlite3.before-restore.1" and result.kept.exists()


def test_restore_refuses_a_backup_older_than_the_schema_unless_forced(settings, tmp_path):
    assert cli(tmp_path, "db", "migrate").returncode == 0
    db = tmp_path / "data" / "homeroom.sqlite3"
    backup = tmp_path / "old.sqlite3"
    proc = cli(tmp_path, "db", "backup", str(backup))
    assert proc.returncode == 0 and "integrity ok" in proc.stdout
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', '2027-01-01T00:00:00+00:00')",
                 (LATEST + 1,))
    conn.commit()
    conn.close()

    proc = cli(tmp_path, "db", "restore", str(backup))
    assert proc.returncode == 1 and f"schema version {LATEST + 1}, newer than the backup's {LATEST}" in proc.stderr
    assert ops_backup.schema_version_of(db) == LATEST + 1  # untouched
    proc = cli(tmp_path, "db", "restore", str(backup), "--force")
    assert proc.returncode == 0, proc.stderr
    assert ops_backup.schema_version_of(db) == LATEST
    assert "before-restore" in proc.stdout


def test_restore_refuses_a_damaged_backup_and_db_check_exit_codes(tmp_path):
    assert cli(tmp_path, "db", "migrate").returncode == 0
    proc = cli(tmp_path, "db", "check")
    assert proc.returncode == 0 and ": ok" in proc.stdout

    good = ops_backup.backup_file(tmp_path / "data" / "homeroom.sqlite3", tmp_path / "good.sqlite3")
    broken = tmp_path / "broken.sqlite3"
    data = bytearray(good.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # page 1 below the header: the schema table
    broken.write_bytes(bytes(data))
    proc = cli(tmp_path, "db", "check", str(broken))
    assert proc.returncode == 1 and "integrity" in proc.stdout
    proc = cli(tmp_path, "db", "restore", str(broken))
    assert proc.returncode == 1 and "damaged" in proc.stderr

    dangling = tmp_path / "dangling.sqlite3"
    shutil.copy(good, dangling)
    conn = sqlite3.connect(dangling)  # foreign keys are off by default: write an orphan
    conn.execute("INSERT INTO tickets (family_id, language, topic, priority, reason, created_at, updated_at) "
                 "VALUES (999, 'en', 'general', 'normal', 'x', '2026-01-01', '2026-01-01')")
    conn.commit()
    conn.close()
    proc = cli(tmp_path, "db", "check", str(dangling))
    assert proc.returncode == 1 and "foreign key: tickets" in proc.stdout


async def test_nightly_backups_are_taken_when_due_and_rotated(settings, tmp_path):
    settings = dataclasses.replace(settings, backup_keep=2)
    app = await start(settings)
    await app.close()
    t0 = datetime(2026, 9, 1, 2, 0, tzinfo=timezone.utc)
    assert await ops_backup.backup_if_due(settings, t0) is not None
    assert await ops_backup.backup_if_due(settings, t0 + timedelta(hours=23)) is None  # not due yet
    for day in (1, 2):
        await ops_backup.backup_if_due(settings, t0 + timedelta(days=day))
    kept = ops_backup.list_backups(ops_backup.backup_dir(settings))
    assert [when for when, _ in kept] == [t0 + timedelta(days=1), t0 + timedelta(days=2)]
    assert ops_backup.last_backup(ops_backup.backup_dir(settings)) == t0 + timedelta(days=2)

    stop = asyncio.Event()
    loop_task = asyncio.create_task(ops_backup.backup_loop(settings, stop, clock=lambda: t0 + timedelta(days=5),
                                                           interval=0.01))
    for _ in range(500):
        if ops_backup.last_backup(ops_backup.backup_dir(settings)) == t0 + timedelta(days=5):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await loop_task
    assert ops_backup.last_backup(ops_backup.backup_dir(settings)) == t0 + timedelta(days=5)
    assert len(ops_backup.list_backups(ops_backup.backup_dir(settings))) == 2


def test_backup_and_health_settings_are_read_and_checked():
    s = Settings.from_env({"HOMEROOM_DATA_DIR": "/srv/hr", "HOMEROOM_HEALTH_LISTEN": "127.0.0.1:8080"})
    assert s.backup_dir == Path("/srv/hr/backups") and s.backup_keep == 7 and s.health_listen == "127.0.0.1:8080"
    assert Settings.from_env({}).health_listen is None
    with pytest.raises(ConfigError, match="HOMEROOM_BACKUP_KEEP"):
        Settings.from_env({"HOMEROOM_BACKUP_KEEP": "a week"})
    with pytest.raises(ConfigError, match="HOMEROOM_HEALTH_LISTEN"):
        Settings.from_env({"HOMEROOM_HEALTH_LISTEN": "8080"})


# -- status and health -------------------------------------------------------------------
async def _family(app, user="p1") -> int:
    stamp = utcnow().isoformat()
    return (await app.db.transact(families.create, "telegram", user, user, None, "en", "default", stamp)).id


async def test_status_is_green_when_nothing_waits_and_red_with_reasons(app, settings):
    now = utcnow()
    status = await gather_status(app.db, settings, now=now)
    assert status.ok and status.as_json()["status"] == "green"

    await app.db.transact(outbox.add, "telegram", "chat1", FamilyMessage("x", "en"), (now - timedelta(minutes=20)).isoformat())
    await app.db.transact(outbox.add, "telegram", "chat1", FamilyMessage("x", "en"), (now - timedelta(minutes=1)).isoformat())
    await app.db.transact(outbox.add, "terminal", "me", FamilyMessage("x", "en"), (now - timedelta(days=2)).isoformat())
    status = await gather_status(app.db, settings, now=now)
    assert not status.ok
    [reason] = status.reasons  # the terminal row waits for its parent: no reason
    assert "telegram message has waited 20 min" in reason and "2 waiting" in reason
    assert status.outbox["telegram"].pending == 2

    fresh = await gather_status(app.db, settings, now=now - timedelta(minutes=10))
    assert fresh.ok  # ten minutes earlier the oldest had waited 10 min: under the limit


async def test_an_urgent_ticket_with_no_staff_channel_is_red_at_once(app, settings):
    """Without Slack or email nobody was alerted: red from the first minute, not after 30."""
    now = utcnow()
    family = await _family(app)
    await app.db.transact(tickets.create, family, "en", "safety", "urgent", "intent safety", "safety_emergency",
                          (now - timedelta(minutes=1)).isoformat())
    alone = await gather_status(app.db, settings, now=now)  # the sample profile: no Slack, no email
    assert alone.staff_channels == () and not alone.ok
    assert "no staff channel (Slack or email) is configured, so nobody was alerted" in alone.reasons[0]
    assert "staff alerts: NONE" in alone.render()
    with_email = await gather_status(app.db, settings, now=now, staff_channels=("email",))
    assert with_email.ok and "staff alerts: email" in with_email.render()


async def test_status_red_for_dead_rows_urgent_tickets_channels_and_old_backups(app, settings):
    now = utcnow()
    family = await _family(app)
    row = await app.db.transact(outbox.add, "staff", "ticket:1", TicketNew(), now.isoformat())
    await app.db.transact(lambda c: c.execute("UPDATE outbox SET status = 'dead' WHERE id = ?", (row,)))
    await app.db.transact(tickets.create, family, "en", "safety", "urgent", "intent bullying", "bullying",
                          (now - timedelta(minutes=45)).isoformat())
    await app.db.transact(tickets.create, family, "en", "general", "normal", "asked", None,
                          (now - timedelta(days=3)).isoformat())
    channels = ChannelHealth(clock=lambda: now - timedelta(minutes=5))
    channels.set("telegram", False, "NetworkError")
    channels.set("slack", True)

    status = await gather_status(app.db, settings, channels=channels, now=now, staff_channels=("slack",))
    text = "\n".join(status.reasons)
    assert "channel telegram disconnected for 5 min: NetworkError" in text
    assert "1 staff message(s) could not be delivered" in text
    assert "urgent ticket has been unclaimed for 45 min" in text
    assert len(status.reasons) == 3
    assert status.tickets_open == 2 and status.tickets_by_age == {"under 1 h": 1, "1-24 h": 0, "1-7 days": 1,
                                                                  "over 7 days": 0}
    assert "RED" in status.render() and "telegram DISCONNECTED" in status.render()

    later = now + timedelta(days=3)  # the database is now 3 days old and was never backed up
    assert any(r.startswith("backups: no backup in 48 h") for r in
               (await gather_status(app.db, settings, now=later)).reasons)
    await ops_backup.backup_if_due(settings, later - timedelta(hours=1))
    assert not any(r.startswith("backups") for r in (await gather_status(app.db, settings, now=later)).reasons)
    off = dataclasses.replace(settings, backup_keep=0)
    assert not any(r.startswith("backups") for r in
                   (await gather_status(app.db, off, now=now + timedelta(days=30))).reasons)


async def test_healthz_answers_200_when_green_and_503_with_reasons_when_red(app, settings):
    channels = ChannelHealth()
    channels.set("telegram", True)
    clock = {"now": utcnow()}

    async def source():
        return await gather_status(app.db, settings, channels=channels, translator=app.translator, now=clock["now"])

    async with TestClient(TestServer(health_app(source))) as client:
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 200 and body["status"] == "green"
        assert body["channels"]["telegram"]["connected"] is True
        # private (HOMEROOM_HEALTH_LISTEN): the details the public webhook port never shows
        assert body["database"]["path"] == str(settings.db_path) and "open" in body["tickets"]

        await app.db.transact(outbox.add, "telegram", "chat1", FamilyMessage("x", "en"), clock["now"].isoformat())
        clock["now"] += timedelta(minutes=16)
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 503 and body["status"] == "red"
        assert any("waited 16 min" in r for r in body["reasons"])

    existing = add_health_route(web.Application(), source)  # another private server (never a public port)
    async with TestClient(TestServer(existing)) as client:
        assert (await client.get("/healthz")).status == 503


def test_status_command_exit_codes_and_json(tmp_path):
    proc = cli(tmp_path, "status")
    assert proc.returncode == 1 and "no database" in proc.stderr
    assert cli(tmp_path, "db", "migrate").returncode == 0
    proc = cli(tmp_path, "status")
    assert proc.returncode == 0 and "GREEN" in proc.stdout and "channels:     unknown" in proc.stdout
    conn = sqlite3.connect(tmp_path / "data" / "homeroom.sqlite3")
    conn.execute("INSERT INTO outbox (channel, target, kind, payload, next_attempt_at, created_at) "
                 "VALUES ('telegram', '1', 'text', '{}', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    proc = cli(tmp_path, "status", "--json")
    body = json.loads(proc.stdout)
    assert proc.returncode == 1 and body["status"] == "red" and body["outbox"]["telegram"]["pending"] == 1


def _profile_copy(tmp_path: Path, calendar: str | None) -> Path:
    """The sample profile in a folder of its own, its [calendar] source replaced (None: no [calendar])."""
    text = (ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8")
    assert 'source = "calendar.ics"' in text
    text = text.replace('source = "calendar.ics"', f"source = {json.dumps(calendar)}") if calendar else \
        text.replace("[calendar]", "").replace('source = "calendar.ics"', "")
    (tmp_path / "profile").mkdir(exist_ok=True)
    path = tmp_path / "profile" / "school.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_status_says_the_calendar_loaded_with_its_events_and_days(app, settings):
    status = await gather_status(app.db, settings, now=utcnow())
    assert status.ok
    line = next(x for x in status.render().splitlines() if x.startswith("calendar:"))
    assert line.startswith("calendar:     loaded, 16 events, 2026-08-12 to 2027-06-03 (") and \
        line.endswith("sample_school/calendar.ics)"), line
    assert status.as_json()["calendar"]["state"] == "loaded" and status.as_json()["calendar"]["events"] == 16


def test_status_command_reports_a_calendar_that_does_not_load_or_is_not_configured(tmp_path):
    missing = _profile_copy(tmp_path, "no-such-calendar.ics")
    assert cli(tmp_path, "db", "migrate").returncode == 0
    proc = cli(tmp_path, "status", HOMEROOM_SCHOOL_PROFILE=str(missing))
    assert proc.returncode == 1, proc.stdout
    assert "! calendar: the school calendar (no-such-calendar.ics) did not load:" in proc.stdout
    assert "no-such-calendar.ics cannot be read" in proc.stdout and "calendar:     NOT LOADED" in proc.stdout
    none = _profile_copy(tmp_path, None)
    proc = cli(tmp_path, "status", "--json", HOMEROOM_SCHOOL_PROFILE=str(none))
    body = json.loads(proc.stdout)
    assert proc.returncode == 0 and body["calendar"]["state"] == "not configured", proc.stdout


def test_status_command_reads_a_calendar_url_from_the_bots_saved_copy_without_fetching(tmp_path):
    from bot.calendar.load import CACHE_NAME

    url = _profile_copy(tmp_path, "https://calendar.invalid/school.ics")  # never fetched by `status`
    assert cli(tmp_path, "db", "migrate").returncode == 0
    proc = cli(tmp_path, "status", HOMEROOM_SCHOOL_PROFILE=str(url))
    assert proc.returncode == 1 and "no saved copy at" in proc.stdout, proc.stdout
    shutil.copy(ROOT / "sample_school" / "calendar.ics", tmp_path / "data" / CACHE_NAME)
    proc = cli(tmp_path, "status", HOMEROOM_SCHOOL_PROFILE=str(url))
    assert proc.returncode == 0, proc.stdout
    assert "calendar:     loaded, 16 events, 2026-08-12 to 2027-06-03 (https://calendar.invalid/school.ics); " \
        "from the copy the bot saved at" in proc.stdout, proc.stdout


async def test_the_running_bots_status_says_its_calendar_did_not_load_and_why(tmp_path):
    from bot.ops.status import status_source

    profile = _profile_copy(tmp_path, "missing.ics")
    homeroom = await start(Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"),
                                              "HOMEROOM_SCHOOL_PROFILE": str(profile)}))
    try:
        status = await status_source(homeroom)()
        assert not status.ok and status.calendar.state == "failed"
        assert any(r.startswith("calendar: the school calendar (missing.ics) did not load") and "cannot be read" in r
                   for r in status.reasons), status.reasons
        (profile.parent / "missing.ics").write_bytes((ROOT / "sample_school" / "calendar.ics").read_bytes())
        assert (await reload(homeroom)).ok  # fixed, then `homeroom reload`
        status = await status_source(homeroom)()
        assert status.ok and status.calendar.state == "loaded" and status.calendar.events == 16, status.reasons
        (profile.parent / "missing.ics").unlink()  # broken again: the calendar read before stays in use
        await reload(homeroom)
        status = await status_source(homeroom)()
        assert status.ok and "the last reload failed, the calendar read before is in use" in status.render()
    finally:
        await homeroom.close()


# -- reload ------------------------------------------------------------------------------
@pytest.fixture
def editable(tmp_path):
    """Settings whose intent catalog and locales are copies the test may edit."""
    shutil.copytree(ROOT / "intents", tmp_path / "intents")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    # the lexical matcher: these tests are about reload itself; an edit retrains the semantic
    # model for minutes (its rebuild is tested in test_understanding.py on a small catalog)
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"),
                              "HOMEROOM_INTENTS_DIR": str(tmp_path / "intents"),
                              "HOMEROOM_LOCALES_DIR": str(tmp_path / "locales"),
                              "HOMEROOM_UNDERSTANDING": "lexical"})


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_example(settings: Settings) -> None:
    anchor = "        - lunch menu?\n"
    edit(settings.intents_dir / "meals.yaml", anchor, f"{anchor}        - {NEW_EXAMPLE}\n")


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


async def test_reload_keeps_the_running_catalog_when_the_new_one_is_broken(editable):
    app = await start(editable)
    try:
        meals = editable.intents_dir / "meals.yaml"
        edit(meals, "choices: [meal_assistance, lunch_menu]", "choices: [meal_assistance, no_such_intent]")
        line = line_of(meals, "choices: [meal_assistance, no_such_intent]")  # the line to fix
        running = app.understanding.current
        result = await reload(app)
        assert not result.ok
        assert f"meals.yaml:{line}:" in result.report and "no_such_intent" in result.report
        assert app.understanding.current is running

        edit(meals, "        - lunch menu?\n", "        - lunch menu?: [oops\n")  # a YAML syntax error
        result = await reload(app)
        assert not result.ok and "meals.yaml:" in result.report and "YAML error" in result.report
        assert app.understanding.current is running
    finally:
        await app.close()


async def test_a_valid_edit_takes_effect_without_restart(editable):
    app = await start(editable)
    try:
        assert app.understanding.current.matcher.classify(NEW_EXAMPLE, "en").intent != "lunch_menu"
        add_example(editable)
        assert app.engine.locales.lookup("es", "Main menu") == "Menú principal"  # loaded (and cached)
        es_po = editable.locales_dir / "es" / "LC_MESSAGES" / "bot.po"
        edit(es_po, 'msgstr "Menú principal"', 'msgstr "Menú de inicio"')
        assert app.engine.locales.lookup("es", "Main menu") == "Menú principal"
        before = app.understanding.current

        result = await reload(app)
        assert result.ok, result.report
        now = app.understanding.current
        assert result.intents == len(now.catalog.intents) and "es" in result.languages
        classified = now.matcher.classify(NEW_EXAMPLE, "en")
        assert classified.decision == "answer" and classified.intent == "lunch_menu"
        assert app.engine.understanding is app.understanding  # one holder: the engine sees it too
        assert now.detector is not before.detector and now.status.backend == "lexical"
        assert app.engine.locales.lookup("es", "Main menu") == "Menú de inicio"
        assert app.engine.localizer.locales is app.engine.locales

        replies = await app.engine.handle(msg(NEW_EXAMPLE, user="p1"))
        assert "menu" in replies[0].text.lower()
    finally:
        await app.close()


class Gate:
    """The running matcher, holding each classification until `opened` is set."""

    def __init__(self, real) -> None:
        self.real, self.waiting, self.opened = real, asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    async def aclassify(self, text: str, lang: str | None = None):
        self.waiting.set()
        await self.opened.wait()
        return await self.real.aclassify(text, lang)


async def test_a_turn_awaiting_during_a_reload_answers_from_one_catalog_and_the_next_from_the_new(editable):
    """The reload lands while a turn awaits its matcher: that turn still answers with the old
    catalog's answer and buttons (not the new text of the intent its old matcher found), and the
    family's next message gets the new ones."""
    app = await start(editable)
    try:
        meals = editable.intents_dir / "meals.yaml"
        edit(meals, "The monthly breakfast and lunch menus", "Reloaded: the monthly breakfast and lunch menus")
        edit(meals, "title: Lunch account and payments", "title: Lunch money, reloaded")
        gate = Gate(app.understanding.current.matcher)
        app.understanding.replace(matcher=gate)
        turn = asyncio.create_task(app.engine.handle(msg("whats for lunch today", user="p1")))
        await asyncio.wait_for(gate.waiting.wait(), 10)

        result = await reload(app)
        assert result.ok, result.report
        assert app.understanding.current.matcher is not gate  # the next turn gets the new matcher
        gate.opened.set()
        [during] = await asyncio.wait_for(turn, 10)
        labels = [c.label for c in during.choices]
        assert during.text.startswith("The monthly breakfast and lunch menus"), during.text
        assert "Lunch account and payments" in labels and "Lunch money, reloaded" not in labels

        [after] = await app.engine.handle(msg("whats for lunch today", user="p1"))
        assert after.text.startswith("Reloaded: the monthly breakfast"), after.text
        assert "Lunch money, reloaded" in [c.label for c in after.choices]
    finally:
        await app.close()


async def test_sighup_and_homeroom_reload_reach_the_running_bot(editable):
    app = await start(editable)
    loop = asyncio.get_running_loop()
    done: asyncio.Queue = asyncio.Queue()
    remove = install_reload_signal(loop, app, on_done=done.put_nowait)
    try:
        add_example(editable)
        os.kill(os.getpid(), signal.SIGHUP)
        result = await asyncio.wait_for(done.get(), 60)
        assert result.ok and app.understanding.current.matcher.classify(NEW_EXAMPLE, "en").intent == "lunch_menu"
        assert json.loads((editable.data_dir / RESULT_NAME).read_text())["ok"] is True

        # `homeroom reload` (run in a thread: it waits for this loop to answer its signal)
        with pidfile.PidFile(pidfile.pid_path(editable)):
            code = await asyncio.to_thread(ops_cli._reload, editable, argparse.Namespace())
        assert code == 0
        assert (await asyncio.wait_for(done.get(), 60)).ok
        assert not pidfile.pid_path(editable).exists()
    finally:
        remove()
        await app.close()


def test_homeroom_reload_without_a_running_bot_or_with_a_broken_catalog(tmp_path):
    proc = cli(tmp_path, "reload")
    assert proc.returncode == 1 and "no running bot found" in proc.stderr and "homeroom.pid" in proc.stderr
    shutil.copytree(ROOT / "intents", tmp_path / "intents")
    edit(tmp_path / "intents" / "meals.yaml", "choices: [meal_assistance, lunch_menu]", "choices: [nope]")
    line = line_of(tmp_path / "intents" / "meals.yaml", "choices: [nope]")  # the line to fix
    proc = cli(tmp_path, "reload", HOMEROOM_INTENTS_DIR=str(tmp_path / "intents"))
    assert proc.returncode == 1 and f"meals.yaml:{line}:" in proc.stdout and "nothing was reloaded" in proc.stderr


# -- pid file ----------------------------------------------------------------------------
def test_pid_file_detects_stale_and_live_bots(tmp_path):
    path = tmp_path / "homeroom.pid"
    assert pidfile.running_pid(path) is None
    with pidfile.PidFile(path):
        assert pidfile.running_pid(path) == os.getpid()
    assert not path.exists()

    gone = subprocess.Popen([PYTHON, "-c", "pass"])
    gone.wait()
    path.write_text(f"{gone.pid}\n")
    assert pidfile.running_pid(path) is None  # the process is gone: stale
    pidfile.write(path)  # a stale file is replaced
    assert pidfile.running_pid(path) == os.getpid()
    path.write_text(f"{os.getpid()}\n1\n")  # our pid, but another start time: a reused pid
    assert pidfile.running_pid(path) is None or not Path("/proc").is_dir()

    other = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"])
    try:
        start_time = pidfile._start_time(other.pid)
        path.write_text(f"{other.pid}\n{start_time}\n" if start_time else f"{other.pid}\n")
        with pytest.raises(pidfile.AlreadyRunning):
            pidfile.write(path)
    finally:
        other.kill()
        other.wait()


def test_outbox_list_and_retry_a_given_up_message(settings, tmp_path):
    """A message the outbox gave up on can be seen (without its text) and queued again."""
    assert cli(tmp_path, "db", "migrate").returncode == 0
    db = tmp_path / "data" / "homeroom.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO outbox (channel, target, kind, payload, status, attempts, next_attempt_at, last_error,"
                 " created_at) VALUES ('telegram', '42', 'message', '{\"text\": \"secret words\"}', 'dead', 50,"
                 " '2026-11-01T00:00:00+00:00', 'Forbidden: bot was blocked', '2026-11-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    listing = cli(tmp_path, "outbox", "list", "--dead")
    assert listing.returncode == 0 and "#1  dead" in listing.stdout and "blocked" in listing.stdout
    assert "secret words" not in listing.stdout
    assert cli(tmp_path, "outbox", "retry").returncode == 2
    assert cli(tmp_path, "outbox", "retry", "99").returncode == 1
    again = cli(tmp_path, "outbox", "retry", "1")
    assert again.returncode == 0 and "1 message(s) queued again" in again.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT status, attempts FROM outbox").fetchone() == ("pending", 0)


def test_a_given_up_message_that_cannot_be_fixed_is_acknowledged_and_status_goes_green(settings, tmp_path):
    """A family deleted their Telegram account: the message can never go. Someone accepts that
    (`outbox ack`), the audit log says who, status is green again; a later retry still works."""
    assert cli(tmp_path, "db", "migrate").returncode == 0
    db = tmp_path / "data" / "homeroom.sqlite3"
    recent = datetime.now(timezone.utc).isoformat()
    conn = sqlite3.connect(db)
    for target in ("42", "43"):
        conn.execute("INSERT INTO outbox (channel, target, kind, payload, status, attempts, next_attempt_at,"
                     " last_error, created_at) VALUES ('telegram', ?, 'message', '{}', 'dead', 50, ?,"
                     " 'Forbidden: user is deactivated', ?)", (target, recent, recent))
    conn.commit()
    conn.close()
    red = cli(tmp_path, "status", "--json")
    assert red.returncode == 1 and json.loads(red.stdout)["dead_outbox"]["recent"] == {"telegram": 2}
    assert "homeroom outbox ack" in cli(tmp_path, "status").stdout

    assert cli(tmp_path, "outbox", "ack").returncode == 2
    one = cli(tmp_path, "outbox", "ack", "1", "7", "--as", "Ms. Diaz")
    assert one.returncode == 0 and "1 message(s) acknowledged by Ms. Diaz" in one.stdout and "#7" in one.stdout
    assert cli(tmp_path, "outbox", "ack", "1").returncode == 1  # already acknowledged: nothing done
    assert json.loads(cli(tmp_path, "status", "--json").stdout)["dead_outbox"]["recent"] == {"telegram": 1}
    rest = cli(tmp_path, "outbox", "ack", "--all-dead", "--as", "Ms. Diaz")
    assert rest.returncode == 0 and "1 message(s) acknowledged" in rest.stdout
    green = cli(tmp_path, "status", "--json")
    assert json.loads(green.stdout)["dead_outbox"] == {"recent": {}, "total": 2}
    assert "#1  dead" in cli(tmp_path, "outbox", "list", "--dead").stdout
    assert "acknowledged" in cli(tmp_path, "outbox", "list", "--dead").stdout

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT actor, action, subject FROM audit_log ORDER BY id").fetchall() == [
        ("Ms. Diaz", "outbox.acknowledged", "message #1"), ("Ms. Diaz", "outbox.acknowledged", "message #2")]
    conn.close()
    assert cli(tmp_path, "outbox", "retry", "2").returncode == 0  # it can still be sent, if it ever can
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT status, acknowledged_at FROM outbox WHERE id = 2").fetchone() == ("pending", None)
    conn.close()
