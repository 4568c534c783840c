"""Sign-ups for staff in Slack, offline: `/homeroom signups` (list, who, export as a CSV upload),
the alert for a change within 24 hours of the event, and the daily digest — the real bolt app
and slack_sdk client against the mock Web API, signed requests, a real Homeroom with small
sign-up definitions and a fake clock (the same set-up as tests/test_slack.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.config import REPO_ROOT, ConfigError, Settings, load_school_profile
from bot.signups import booking, staff, store
from bot.storage import families
from fakes.slack_api import (BOT_TOKEN, RESPONSE_URL, SIGNING_SECRET, UPLOAD, MockSlackAPI, slash_command_body)
from test_slack import Clock, until
from test_slack import World as SlackWorld

MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)  # 10:00 in Los Angeles
TRIAGE, SIGNUPS, GENERAL = "CTRIAGE", "CSIGNUPS", "CGENERAL"
STAFF, COORDINATOR, OUTSIDER = "USTAFF1", "UCOORD", "UOUTSIDER"
SLACK_TABLE = f"""
[slack]
default_channel = "{TRIAGE}"
signups_channel = "{SIGNUPS}"
digest_time = "16:00"
"""
DEFINITIONS = """
opportunities:
  - id: soon
    title: Tomorrow's library helper
    location: Library
    shifts:
      - {start: 2026-11-24 09:00, end: 2026-11-24 10:00, capacity: 1}
  - id: later
    title: Book fair helper
    location: Gym
    shifts:
      - {start: 2026-11-30 09:00, end: 2026-11-30 10:00, capacity: 2}
conferences:
  - id: rivera
    teacher: Mr. Carlos Rivera
    class: Kindergarten
    room: Room 3
    languages: [en, es]
    windows:
      - {date: 2026-12-01, start: "13:00", end: "14:00", slot_minutes: 20}
"""


class World(SlackWorld):
    """test_slack's World (a Homeroom with Slack on the mock and a fake clock), plus sign-ups."""

    def __init__(self, settings: Settings, mock: MockSlackAPI, clock: Clock) -> None:
        super().__init__(settings, mock, clock)
        self.responses = 0

    async def family(self, user: str, name: str, language: str = "en") -> families.Family:
        await self.say(user, "/start", name=name)
        if language != "en":
            await self.say(user, "/language", name=name)
            await self.say(user, payload=f"lang:{language}", name=name)
        return await self.home.db.run(families.find, "test", user)

    async def volunteer(self, user: str, opp: str, name: str) -> str:
        """A family signs up through the volunteer flow; returns the bot's last reply."""
        await self.say(user, "/volunteer", name=name)
        replies = await self.say(user, payload=f"volunteer:opp:{opp}", name=name)
        await self.say(user, payload=_button(replies, "volunteer:shift:"), name=name)
        replies = await self.say(user, payload="volunteer:name", name=name)
        replies = await self.say(user, payload=_button(replies, "volunteer:confirm:"), name=name)
        return replies[-1].text

    async def book_shift(self, fam: families.Family, opp: str, name: str, key: str) -> booking.Result:
        [shift_id] = await self.ids("SELECT id FROM signup_shifts WHERE opportunity_id = ?", opp)
        notifier = self.home.engine.flows["volunteer"].s.notifier
        return await self.home.db.transact(booking.book_shift, fam.id, shift_id, name, fam.language or "en", key,
                                           store.iso(self.clock()), None, notifier)

    async def book_slot(self, fam: families.Family, teacher: str, name: str, key: str, nth: int = 0):
        slots = await self.ids("SELECT id FROM conference_slots WHERE teacher_id = ? ORDER BY starts_at", teacher)
        return await self.home.db.transact(booking.book_slot, fam.id, slots[nth], name, fam.language or "en", key,
                                           store.iso(self.clock()))

    async def ids(self, sql: str, *args: Any) -> list:
        return await self.home.db.run(lambda c: [r[0] for r in c.execute(sql, args)])

    async def command(self, text: str, user: str = STAFF, channel: str = TRIAGE,
                      answered: bool = True) -> dict[str, Any]:
        """`/homeroom <text>`; returns the ephemeral answer posted to the response_url (a
        successful export answers with the file in the channel instead: `answered=False`)."""
        body, headers = slash_command_body("/homeroom", text, user, channel, response_url=self.mock.response_url)
        response = await self.slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        assert response.status == 200
        if not answered:
            return {}
        self.responses += 1
        return (await self.mock.wait_for(RESPONSE_URL, self.responses))[-1].params

    async def audit(self) -> list[tuple[str, str, str]]:
        return await self.home.db.run(lambda c: [tuple(r) for r in c.execute(
            "SELECT actor, action, subject FROM audit_log ORDER BY id")])

    async def digests(self) -> list[dict[str, Any]]:
        return await self.home.db.run(lambda c: [json.loads(r[0]) for r in c.execute(
            "SELECT payload FROM outbox WHERE kind = 'signups_digest' ORDER BY id")])


def _button(replies, prefix: str) -> str:
    return next(c.payload for c in replies[-1].choices if c.payload.startswith(prefix))


def said(params: dict[str, Any]) -> str:
    return params.get("text", "") + json.dumps(params.get("blocks") or [], ensure_ascii=False)


def posts_to(mock: MockSlackAPI, channel: str) -> list[dict[str, Any]]:
    return [c.params for c in mock.calls("chat.postMessage") if c.status == 200 and c.params["channel"] == channel]


@pytest.fixture
async def mock():
    async with MockSlackAPI() as api:
        api.set_members(TRIAGE, [STAFF])
        api.set_members(SIGNUPS, [STAFF, COORDINATOR])
        api.set_members(GENERAL, [STAFF, COORDINATOR, OUTSIDER])
        yield api


@pytest.fixture
def slack_settings(tmp_path: Path, mock: MockSlackAPI) -> Settings:
    profile = tmp_path / "school.toml"
    profile.write_text((REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + SLACK_TABLE,
                       encoding="utf-8")
    folder = tmp_path / "signups"
    folder.mkdir()
    (folder / "school.yaml").write_text(DEFINITIONS, encoding="utf-8")
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "HOMEROOM_SCHOOL_PROFILE": str(profile),
                              "HOMEROOM_SIGNUPS_DIR": str(folder), "SLACK_BOT_TOKEN": BOT_TOKEN,
                              "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": mock.base_url})


@pytest.fixture
async def world(slack_settings: Settings, mock: MockSlackAPI):
    w = await World(slack_settings, mock, Clock(MONDAY_10AM)).start()
    yield w
    await w.close()


async def signed_up(world: World) -> None:
    """Ana and Ben fill 'later'; Cruz waits; Lan (Vietnamese) books Mr. Rivera (English, Spanish)."""
    for user, name in (("ana", "Ana Lopez"), ("ben", "Ben Okafor"), ("cruz", "Cruz Diaz")):
        result = await world.book_shift(await world.family(user, name), "later", name, f"k-{user}")
        assert result.status == ("waitlisted" if user == "cruz" else "confirmed")
    lan = await world.family("lan", "Lan Nguyen", "vi")
    assert (await world.book_slot(lan, "rivera", "Lan Nguyễn", "k-lan")).status == "confirmed"


# ---------------------------------------------------------------------------------------- commands

async def test_signups_lists_fill_and_who_shows_names_and_interpreter(world, mock):
    await signed_up(world)
    listing = await world.command("signups")
    assert listing["response_type"] == "ephemeral"
    text = said(listing)
    assert "later  Book fair helper" in text and "2/2 signed up, 1 waiting" in text
    assert "0/1 signed up" in text                                    # 'soon': nobody yet
    assert "rivera  Mr. Carlos Rivera" in text and "1/3 slots booked" in text

    who = said(await world.command("signups who rivera"))
    assert "Lan Nguyễn" in who and "[vi]" in who and "interpreter: Vietnamese" in who
    assert "Tue 2026-12-01 13:00" in who                              # school time (Los Angeles), not UTC
    who = said(await world.command("signups who later"))
    assert "Ana Lopez" in who and "Ben Okafor" in who and "waitlist #1" in who and "Cruz Diaz" in who
    assert "interpreter" not in who
    unknown = await world.command("signups who nope")
    assert "No opportunity or teacher" in unknown["text"]
    assert await world.audit() == [(STAFF, "view", "signups who rivera"), (STAFF, "view", "signups who later")]
    assert mock.received_count("files.getUploadURLExternal") == 0
    assert "/homeroom signups who ID" in (await world.command("help"))["text"]


async def test_export_uploads_a_csv_of_the_bookings_to_the_channel(world, mock):
    await signed_up(world)
    await world.command("signups export", channel=SIGNUPS, answered=False)
    [complete] = await mock.wait_for("files.completeUploadExternal")
    assert complete.params["channel_id"] == SIGNUPS
    [upload] = mock.calls(UPLOAD)
    assert upload.params["filename"] == "signups-all-2026-11-23.csv"
    [file] = mock.uploads.values()
    rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert [(r["id"], r["name"], r["status"], r["position"], r["language"], r["interpreter"]) for r in rows] == [
        ("later", "Ana Lopez", "confirmed", "", "en", ""),
        ("later", "Ben Okafor", "confirmed", "", "en", ""),
        ("later", "Cruz Diaz", "waitlisted", "1", "en", ""),
        ("rivera", "Lan Nguyễn", "confirmed", "", "vi", "Vietnamese")]
    assert (rows[0]["date"], rows[0]["start"], rows[0]["end"]) == ("2026-11-30", "09:00", "10:00")
    assert (rows[3]["date"], rows[3]["start"]) == ("2026-12-01", "13:00")
    # one opportunity, from a triage channel
    await world.command("signups export rivera", answered=False)
    await mock.wait_for("files.completeUploadExternal", 2)
    file = mock.uploads[sorted(mock.uploads)[-1]]
    assert file.filename == "signups-rivera-2026-11-23.csv"
    rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == ["Lan Nguyễn"]
    assert mock.calls("files.completeUploadExternal")[1].params["channel_id"] == TRIAGE
    assert [a[1:] for a in await world.audit()] == [("export", f"signups export all to {SIGNUPS}"),
                                                     ("export", f"signups export rivera to {TRIAGE}")]


async def test_non_staff_is_refused_and_files_stay_in_staff_channels(world, mock):
    await signed_up(world)
    for text in ("signups", "signups who later", "signups export"):
        answer = await world.command(text, user=OUTSIDER, channel=GENERAL)
        assert "Only school staff" in answer["text"]
    # a member of the signups channel only (the volunteer coordinator) may
    assert "2/2 signed up" in said(await world.command("signups", user=COORDINATOR, channel=SIGNUPS))
    # staff asking in a channel anyone can read: told where to run it, nothing uploaded
    answer = await world.command("signups export", user=STAFF, channel=GENERAL)
    assert "only posted in" in answer["text"]
    await asyncio.sleep(0.1)
    assert mock.received_count("files.getUploadURLExternal") == 0
    assert await world.audit() == []


# ---------------------------------------------------------------------------------------- alerts

async def test_a_change_within_24_hours_alerts_the_signups_channel_once(world, mock):
    done = await world.volunteer("ana", "soon", "Ana Lopez")          # starts in 23 hours
    assert "You're signed up" in done
    await world.deliver()
    [alert] = posts_to(mock, SIGNUPS)
    text = said(alert)
    assert "Within 24 hours" in text and "Ana Lopez signed up for Tomorrow's library helper" in text
    assert "Tue, Nov 24, 9:00 AM" in text and "now 1/1 signed up" in text
    assert mock.received_count("chat.postMessage") == 1

    done = await world.volunteer("ben", "later", "Ben Okafor")         # a week ahead: no alert
    assert "You're signed up" in done
    await world.deliver()
    assert mock.received_count("chat.postMessage") == 1

    # a waitlisted family moves up when the seat is given back: both changes are told, in order
    cruz = await world.family("cruz", "Cruz Diaz")
    assert (await world.book_shift(cruz, "soon", "Cruz Diaz", "k-cruz")).status == "waitlisted"
    ana = await world.home.db.run(families.find, "test", "ana")
    [ana_booking] = await world.ids("SELECT id FROM signup_bookings WHERE family_id = ?", ana.id)
    result = await world.home.db.transact(booking.cancel, ana.id, ana_booking, store.iso(world.clock()),
                                          world.home.engine.flows["volunteer"].s.notifier)
    assert [b.name for b in result.promoted] == ["Cruz Diaz"]
    await world.deliver()
    texts = [said(p) for p in posts_to(mock, SIGNUPS)[1:]]
    assert len(texts) == 3
    assert "Cruz Diaz joined the waitlist (#1)" in texts[0]
    assert "Ana Lopez cancelled Tomorrow's library helper" in texts[1] and "now 0/1" in texts[1]
    assert "Cruz Diaz moved up from the waitlist" in texts[2] and "now 1/1" in texts[2]
    assert all(p["channel"] == SIGNUPS for p in posts_to(mock, SIGNUPS))


async def test_alert_escapes_family_names(world, mock):
    await world.volunteer("eve", "soon", "<!channel> Eve")
    await world.deliver()
    [alert] = posts_to(mock, SIGNUPS)
    assert "<!channel>" not in said(alert) and "&lt;!channel&gt; Eve" in said(alert)


async def test_forgetme_removes_the_alerts_that_name_the_family(world, mock):
    from bot.privacy.family_data import delete_family

    await world.volunteer("ana", "soon", "Ana Lopez")
    cruz = await world.family("cruz", "Cruz Diaz")
    await world.book_shift(cruz, "soon", "Cruz Diaz", "k-cruz")
    ana = await world.home.db.run(families.find, "test", "ana")
    await world.home.db.transact(delete_family, ana.id, "it-admin", store.iso(world.clock()),
                                 world.home.engine.flows["volunteer"].s.notifier)
    alerts = await world.home.db.run(lambda c: [json.loads(r[0]) for r in c.execute(
        "SELECT payload FROM outbox WHERE kind = 'signups_alert' ORDER BY id")])
    assert [(a["name"], a["event"]) for a in alerts] == [("Cruz Diaz", "waitlisted"), ("Cruz Diaz", "promoted")]
    assert "Ana" not in json.dumps(alerts)


# ---------------------------------------------------------------------------------------- digest

async def run_digest_loop(world: World, until_rows: int) -> None:
    """The real loop with a short interval, until `until_rows` digests exist, then a few more rounds."""
    stop = asyncio.Event()
    woken: list[int] = []
    task = asyncio.ensure_future(staff.digest_loop(world.home.db, world.home.profile, stop,
                                                   lambda: woken.append(1), clock=world.clock, interval=0.01))
    try:
        await until(lambda: _count(world, until_rows), what=f"{until_rows} digest(s)")
        await asyncio.sleep(0.1)  # more rounds of the loop on the same day
    finally:
        stop.set()
        await task


async def _count(world: World, rows: int) -> bool:
    return len(await world.digests()) >= rows


async def test_daily_digest_once_per_day_across_a_restart(slack_settings, mock):
    clock = Clock(MONDAY_10AM)
    world = await World(slack_settings, mock, clock).start()
    try:
        await signed_up(world)
        assert await staff.digest_once(world.home.db, world.home.profile, clock()) is None  # 10:00: not yet
        clock.advance(hours=6, minutes=5)                                                   # 16:05
        await run_digest_loop(world, 1)
        [digest] = await world.digests()
        assert digest["day"] == "2026-11-23"
        assert "Book fair helper (later)" in digest["text"] and "New: Ana Lopez" in digest["text"]
        assert "New: Cruz Diaz" in digest["text"] and "(waitlist #1)" in digest["text"]
        assert "Now: Mon, Nov 30, 9:00 AM – 10:00 AM: 2/2, 1 waiting" in digest["text"]
        assert "Conferences with Mr. Carlos Rivera (rivera)" in digest["text"]
        assert "interpreter: Vietnamese" in digest["text"] and "1/3 slots booked" in digest["text"]
        await world.deliver()
        [post] = posts_to(mock, SIGNUPS)
        assert "Sign-ups digest for 2026-11-23" in said(post) and "Lan Nguyễn" in said(post)
    finally:
        await world.close()

    clock.advance(hours=1)                                   # 17:05 the same day, after a restart
    world = await World(slack_settings, mock, clock).start()
    try:
        await run_digest_loop(world, 1)
        assert len(await world.digests()) == 1
        clock.advance(hours=20)                                  # Tuesday 13:05: a change, then the digest
        ana = await world.home.db.run(families.find, "test", "ana")
        [ana_booking] = await world.ids("SELECT id FROM signup_bookings WHERE family_id = ?", ana.id)
        await world.home.db.transact(booking.cancel, ana.id, ana_booking, store.iso(clock()),
                                     world.home.engine.flows["volunteer"].s.notifier)
        clock.advance(hours=3)                                   # 16:05 Tuesday
        await run_digest_loop(world, 2)
        first, second = await world.digests()
        assert second["day"] == "2026-11-24"
        assert "Cancelled: Ana Lopez" in second["text"] and "Moved up from the waitlist: Cruz Diaz" in second["text"]
        assert "New:" not in second["text"] and "rivera" not in second["text"]  # only what changed since Monday
        assert second["since"] == store.iso(MONDAY_10AM + timedelta(hours=6, minutes=5))
        await world.deliver()
        assert len(posts_to(mock, SIGNUPS)) == 2
    finally:
        await world.close()


async def test_quiet_day_writes_no_digest(tmp_path):
    """Nothing changed since the last digest → no row, and the date still counts as done."""
    from bot.storage import Database

    db = await Database(tmp_path / "quiet.sqlite3").open()
    try:
        tz = load_school_profile(REPO_ROOT / "sample_school" / "school.toml").tz
        assert await db.transact(staff.write_digest, "2026-11-23", store.iso(MONDAY_10AM), tz) is None
        assert await db.run(lambda c: c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]) == 0
        marks = await db.run(lambda c: c.execute("SELECT event_id FROM processed_events WHERE source = ?",
                                                 (staff.DIGEST_SOURCE,)).fetchall())
        assert [tuple(m) for m in marks] == [("2026-11-23",)]
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------- config

def test_signups_channel_and_digest_time_are_validated(tmp_path):
    base = (REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8")
    path = tmp_path / "school.toml"
    path.write_text(base + SLACK_TABLE, encoding="utf-8")
    slack = load_school_profile(path).slack
    assert slack.signups_channel == SIGNUPS and slack.digest_time == time(16, 0)
    path.write_text(base + f'\n[slack]\ndefault_channel = "{TRIAGE}"\n', encoding="utf-8")
    slack = load_school_profile(path).slack
    assert slack.signups_channel == TRIAGE and slack.digest_time == time(16, 0)
    path.write_text(base + f'\n[slack]\ndefault_channel = "{TRIAGE}"\ndigest_time = "4pm"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="digest_time"):
        load_school_profile(path)
    path.write_text(base + f'\n[slack]\ndefault_channel = "{TRIAGE}"\nsignups_channel = "#signups"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="signups_channel"):
        load_school_profile(path)
