"""Absences reported in the chat (bot/flows/absence.py, bot/absences/): one row however often
Confirm is tapped, the notice to the attendance office through the real outbox — the real email
sender against a local SMTP server, and the real Slack sender against the mock Web API — only
claimed to the family when it is really queued, /myabsences, and the clerk's CSV export parsed
back. The conversations themselves are stories: tests/stories/absence.yaml."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.absences import days as school_days
from bot.absences import store
from bot.app import start
from bot.cli import main
from bot.config import REPO_ROOT, ConfigError, Settings, load_school_profile
from bot.translation import FakeTranslator
from fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, MockSlackAPI
from support import Parent
from test_email import EMAIL_TABLE, Inbox, Server, _free_port
from test_slack import Clock, World

TUESDAY_9AM = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # 9:00 at the school (after call_before)
ATTENDANCE_MAIL = "attendance@maplegrove.example.org"
ATTEND = "CATTEND"


def profile_with(tmp_path: Path, *tables: str) -> Path:
    path = tmp_path / "school.toml"
    path.write_text((REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + "".join(tables),
                    encoding="utf-8")
    return path


async def report(parent: Parent, child: str = "Mateo Lopez", note: str | None = "fever") -> str:
    """Go through the flow up to the confirm step; returns the confirm button's payload."""
    await parent.say("my son is sick today and won't be in school")
    await parent.say(child)
    await parent.tap("absence:days:both")
    await parent.tap("absence:why:sick")
    replies = await (parent.say(note) if note else parent.tap("absence:nonote"))
    return next(c.payload for c in replies[-1].choices if c.payload.startswith("absence:confirm:"))


def text_of(replies) -> str:
    return "\n".join(r.text for r in replies)


async def rows(app, kind: str | None = None) -> list:
    return await app.db.run(lambda c: c.execute("SELECT channel, target, kind FROM outbox WHERE kind != 'reply'"
                                                + (" AND kind = ?" if kind else ""), (kind,) if kind else ()).fetchall())


@pytest.fixture
async def home(settings: Settings):
    app = await start(settings)
    app.engine.clock = lambda: TUESDAY_9AM
    yield app
    await app.close()


async def test_a_repeated_confirm_records_one_absence_and_claims_no_alert_without_staff_channels(home):
    parent = Parent(home, "p1")
    confirm = await report(parent)
    tap = parent.incoming(payload=confirm)
    done = text_of(await home.engine.handle(tap))
    assert "Recorded" in done and "attendance list" in done and "notified" not in done
    assert "after 8:30 AM" in done and "(951) 555-0143" in done       # the profile's rule, as it applies today
    again = text_of(await parent.tap(confirm))                         # a second tap on the same button
    assert "already recorded" in again
    await home.engine.handle(tap)                                      # and the same update delivered twice
    [absence] = await home.db.run(store.on_day, date(2026, 12, 1))
    assert (absence.child, absence.reason, absence.note) == ("Mateo Lopez", "sick", "fever")
    assert absence.days == (date(2026, 12, 1), date(2026, 12, 2)) and absence.guardian == "Maria Lopez"
    assert absence.notified == ()
    assert await rows(home) == []                                      # nothing queued for staff
    from bot.privacy.family_data import export_family                  # /mydata shows it
    [family] = await home.db.run(lambda c: [r[0] for r in c.execute("SELECT id FROM families")])
    [exported] = (await home.db.run(export_family, family))["absences"]
    assert (exported["child"], exported["days"], exported["reason"]) == ("Mateo Lopez", "2026-12-01,2026-12-02", "sick")

    mine = text_of(await parent.say("/myabsences"))
    assert "A. Mateo Lopez" in mine and "Tue, Dec 1 · Wed, Dec 2" in mine and "Sick" in mine


async def test_the_attendance_office_is_emailed_through_the_real_sender(tmp_path):
    inbox = Inbox()
    server = Server(inbox, _free_port())
    server.start()
    settings = Settings.from_env({
        "HOMEROOM_DATA_DIR": str(tmp_path / "data"),
        "HOMEROOM_SCHOOL_PROFILE": str(profile_with(tmp_path, EMAIL_TABLE, f'attendance = "{ATTENDANCE_MAIL}"\n')),
        "HOMEROOM_SMTP_HOST": "127.0.0.1", "HOMEROOM_SMTP_PORT": str(server.port), "HOMEROOM_SMTP_SECURITY": "none"})
    app = await start(settings, translator=FakeTranslator(languages=["en", "es"]))
    app.engine.clock = app.delivery.clock = lambda: TUESDAY_9AM
    try:
        parent = Parent(app, "p1")
        confirm = await report(parent, child="=HYPERLINK(\"x\")", note=None)
        done = text_of(await parent.tap(confirm))
        assert "the attendance office has been notified" in done
        await parent.tap(confirm)
        assert await app.delivery.run_once() >= 1
        [(to, mail)] = inbox.mails                                     # one mail, to the attendance address
        assert to == [ATTENDANCE_MAIL]
        assert "Absence reported" in str(mail["Subject"])
        body = inbox.bodies()[0]
        assert '=HYPERLINK("x")' in body and "Tue Dec 1, Wed Dec 2" in body and "Reason: sick" in body
        assert "Maria Lopez [en]" in body
        [absence] = await app.db.run(store.on_day, date(2026, 12, 2))
        assert absence.notified == ("email",)
    finally:
        await app.close()
        server.stop()


async def test_the_slack_attendance_channel_gets_the_notice(tmp_path):
    async with MockSlackAPI() as mock:
        settings = Settings.from_env({
            "HOMEROOM_DATA_DIR": str(tmp_path / "data"),
            "HOMEROOM_SCHOOL_PROFILE": str(profile_with(
                tmp_path, f'\n[slack]\ndefault_channel = "CTRIAGE"\n[slack.channels]\nattendance = "{ATTEND}"\n')),
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": mock.base_url})
        world = await World(settings, mock, Clock(TUESDAY_9AM)).start()
        try:
            await world.say("lan", "/start", name="Lan Nguyen")
            for step in ("kid is sick today", "Bao Nguyen"):
                await world.say("lan", step, name="Lan Nguyen")
            for payload in ("absence:days:one", "absence:why:appointment", "absence:nonote"):
                replies = await world.say("lan", payload=payload, name="Lan Nguyen")
            confirm = next(c.payload for c in replies[-1].choices if c.payload.startswith("absence:confirm:"))
            done = text_of(await world.say("lan", payload=confirm, name="Lan Nguyen"))
            assert "notified" in done
            await world.deliver()
            posts = [c.params for c in mock.calls("chat.postMessage") if c.status == 200]
            [post] = [p for p in posts if p["channel"] == ATTEND]
            assert "Bao Nguyen" in post["text"] and "Reason: appointment" in post["text"]
            assert await world.home.db.run(lambda c: c.execute(
                "SELECT status FROM outbox WHERE kind = 'absence_notice'").fetchall()[0][0]) == "sent"
        finally:
            await world.close()


async def test_a_remembered_child_is_offered_and_the_export_is_formula_safe(home, tmp_path, monkeypatch,
                                                                           capsysbinary):
    parent = Parent(home, "p1", name="@Dad")
    await parent.tap(await report(parent, child="=cmd|' /C calc'!A0", note="+1 sick"))
    second = Parent(home, "p2", name="Nguyễn Thị Lan")
    await second.tap(await report(second, child="Bao", note=None))
    replies = await parent.say("my child will be absent tomorrow")
    labels = [c.label for c in replies[-1].choices]
    assert labels[:2] == ["=cmd|' /C calc'!A0", "Another child"]

    monkeypatch.setenv("HOMEROOM_DATA_DIR", str(home.settings.data_dir))
    assert await asyncio.to_thread(main, ["absences", "export", "--date", "2026-12-02"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(out.decode("utf-8-sig"))))
    assert table[0] == ["child", "guardian", "language", "dates", "reason", "note", "reported_at"]
    assert table[1][:6] == ["'=cmd|' /C calc'!A0", "'@Dad", "en", "2026-12-01 2026-12-02", "sick", "'+1 sick"]
    assert table[2][:2] == ["Bao", "Nguyễn Thị Lan"]
    assert await asyncio.to_thread(main, ["absences", "export", "--date", "2026-12-09"]) == 0
    assert len(list(csv.reader(io.StringIO(capsysbinary.readouterr().out.decode("utf-8-sig"))))) == 1
    assert await asyncio.to_thread(main, ["absences", "export", "--date", "12/02/2026"]) == 2


def test_the_days_offered_skip_weekends_and_holidays():
    holidays = load_school_profile(REPO_ROOT / "sample_school" / "school.toml").holidays
    friday = date(2026, 12, 18)  # winter break starts Monday Dec 21; school again Monday Jan 4
    offered = school_days.choices(friday, holidays)
    assert offered["one"] == [friday] and offered["two"] == [date(2027, 1, 4)]
    assert "week" not in offered and offered["three"] == [friday, date(2027, 1, 4), date(2027, 1, 5)]
    saturday = school_days.choices(date(2026, 12, 5), holidays)
    assert saturday["one"] == [date(2026, 12, 7)] and saturday["week"][-1] == date(2026, 12, 11)
    assert school_days.consecutive([friday, date(2027, 1, 4)], holidays) == 2


def test_the_absences_table_is_checked_with_clear_messages(tmp_path):
    policy = load_school_profile(profile_with(tmp_path)).absences
    assert policy.enabled and policy.note_after_days == 3 and policy.call_before.isoformat() == "08:30:00"
    base = (REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8")
    for bad, words in (('call_before = "8.30"', "HH:MM"), ("enabled = 1", "true or false"),
                       ("note_after_days = -1", "whole number")):
        path = tmp_path / "bad.toml"
        path.write_text(base.replace('call_before = "08:30"', bad) if "call_before" in bad else
                        base.replace(bad.split(" = ")[0] + " = " + ("true" if "enabled" in bad else "3"), bad),
                        encoding="utf-8")
        with pytest.raises(ConfigError, match=words):
            load_school_profile(path)
