"""The community report: numbers from a hand-built database, text/CSV/PNG, the CLI, the weekly post.

The fixture database is written with plain INSERTs so every number below can be computed by
hand from this file. The period is the school week Mon Nov 30 – Sun Dec 6, 2026 in
America/Los_Angeles (the sample school), i.e. [2026-11-30 08:00Z, 2026-12-07 08:00Z).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import struct
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import load_school
from bot.config import Settings
from bot.reports import render, weekly
from bot.reports.cli import report_command
from bot.reports.cli import period as cli_period
from bot.reports.compute import LanguageCount, Report, TopicCount, compute
from bot.storage import Database
from conftest import PYTHON, ROOT, cli_env

LA = ZoneInfo("America/Los_Angeles")
UTC = timezone.utc
START = datetime(2026, 11, 30, tzinfo=LA)
END = datetime(2026, 12, 7, tzinfo=LA)
SCHOOL = "Maple Grove Elementary School"


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> str:
    """A stored time stamp (UTC ISO, as the engine writes it) for a local time at the school."""
    return datetime(2026, month, day, hour, minute, tzinfo=LA).astimezone(UTC).isoformat()


def fill(conn) -> None:
    old = at(1, 9, month=11)
    for fid, lang in ((1, "es"), (2, "en"), (3, "vi"), (4, "es")):
        conn.execute("INSERT INTO families (id, channel, channel_user_id, chat_id, language, created_at,"
                     " last_seen_at) VALUES (?, 'telegram', ?, ?, ?, ?, ?)", (fid, f"u{fid}", f"c{fid}", lang, old, old))

    def msg(family: int, stamp: str, intent: str | None, lang: str, direction: str = "in") -> None:
        conn.execute("INSERT INTO messages (family_id, direction, text, language, intent, created_at)"
                     " VALUES (?, ?, 'words', ?, ?, ?)", (family, direction, lang, intent, stamp))

    def ticket(family: int, stamp: str, intent: str, priority: str, answered_after: int | None) -> None:
        first = ((datetime.fromisoformat(stamp) + timedelta(minutes=answered_after)).isoformat()
                 if answered_after is not None else None)
        conn.execute("INSERT INTO tickets (family_id, language, topic, priority, reason, intent, created_at,"
                     " updated_at, first_response_at) VALUES (?, 'en', 'x', ?, 'r', ?, ?, ?, ?)",
                     (family, priority, intent, stamp, stamp, first))

    # in the period
    msg(1, at(1, 8), "report_absence", "es")                 # 1 attendance, bot
    msg(1, at(2, 8), "report_absence", "es")                 # 2 attendance, bot
    msg(2, at(1, 12), "school_hours", "en")                  # 3 general, bot
    msg(2, at(3, 7), "transportation_bus", "en")             # 4 transportation, bot
    msg(3, at(1, 10), "bullying_report", "vi")               # 5 safety, opened a ticket
    ticket(3, at(1, 10), "bullying_report", "urgent", 10)
    msg(4, at(2, 15), "talk_to_human", "es")                 # 6 general, opened a ticket
    ticket(4, at(2, 15), "talk_to_human", "normal", 200)
    tid = conn.execute("SELECT MAX(id) FROM tickets").fetchone()[0]
    for stamp in (at(2, 18), at(29, 9, month=11)):  # one staff reply sent in English in the period, one before
        conn.execute("INSERT INTO ticket_events (ticket_id, kind, author, text, language, created_at)"
                     " VALUES (?, 'untranslated', 'staff', 'Reply in English', 'es', ?)", (tid, stamp))
    msg(2, at(4, 9), "greeting", "en")                       # 7 not a question
    msg(1, at(4, 10), None, "es")                            # 8 not understood: not a question
    msg(4, at(3, 9), "special_education", "es")              # 9 handed off (ticket already open)
    msg(1, at(5, 11), "renamed_since", "es")                 # 11 intent no longer in the catalog: other, bot
    msg(2, at(5, 20), "safety_emergency", "en")              # 12 safety, opened a ticket
    ticket(2, at(5, 20), "safety_emergency", "urgent", 30)
    msg(3, at(6, 23, 59), "talk_to_human", "vi")             # 13 general, opened a ticket, no reply yet
    ticket(3, at(6, 23, 59), "talk_to_human", "normal", None)
    msg(2, at(1, 12), "(reply)", "en", direction="out")      # the bot's own words are not counted
    # outside the period
    msg(2, (START - timedelta(seconds=1)).astimezone(UTC).isoformat(), "school_hours", "en")
    msg(3, END.astimezone(UTC).isoformat(), "school_hours", "vi")
    msg(1, at(29, 9, month=11), "talk_to_human", "es")
    ticket(1, at(29, 9, month=11), "talk_to_human", "normal", 5)

    # volunteer sign-ups
    for opp, active in (("book_fair", 1), ("old_event", 1), ("retired", 0)):
        conn.execute("INSERT INTO signup_opportunities (id, title, active, updated_at) VALUES (?, ?, ?, ?)",
                     (opp, opp.replace("_", " ").title(), active, old))
    shifts = {  # id: (opportunity, start, capacity)
        1: ("book_fair", at(2, 9), 3), 2: ("book_fair", at(10, 9), 2), 3: ("book_fair", at(20, 9, month=11), 5),
        4: ("old_event", at(10, 9, month=11), 4), 5: ("retired", at(10, 9), 9)}
    for sid, (opp, starts, cap) in shifts.items():
        ends = (datetime.fromisoformat(starts) + timedelta(hours=1)).isoformat()
        conn.execute("INSERT INTO signup_shifts (id, opportunity_id, key, starts_at, ends_at, tz, capacity)"
                     " VALUES (?, ?, ?, ?, ?, 'America/Los_Angeles', ?)", (sid, opp, f"k{sid}", starts, ends, cap))
    booking_id = iter(range(1, 100))

    def book(kind: str, family: int, status: str, created: str, lang: str = "en", shift: int | None = None,
             slot: int | None = None, teacher: str | None = None) -> None:
        conn.execute("INSERT INTO signup_bookings (id, family_id, kind, shift_id, slot_id, teacher_id, name, language,"
                     " status, position, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'Name', ?, ?, ?, ?, ?)",
                     (next(booking_id), family, kind, shift, slot, teacher, lang, status,
                      1 if status == "waitlisted" else None, created, created))

    book("volunteer", 1, "confirmed", at(1, 9), shift=1)
    book("volunteer", 2, "confirmed", at(2, 9), shift=1)
    book("volunteer", 3, "confirmed", at(25, 9, month=11), shift=1)     # before the period: not new
    book("volunteer", 4, "waitlisted", at(3, 9), shift=1)
    book("volunteer", 1, "confirmed", at(4, 9), shift=2)
    book("volunteer", 2, "cancelled", at(4, 10), shift=2)
    book("volunteer", 1, "confirmed", at(10, 9, month=11), shift=3)     # shift over before the period
    book("volunteer", 2, "confirmed", at(10, 9, month=11), shift=3)
    book("volunteer", 1, "confirmed", at(1, 9, month=11), shift=4)

    # conferences
    for teacher, langs in (("rivera", ["en", "es"]), ("nguyen", ["en", "vi"])):
        conn.execute("INSERT INTO conference_teachers (id, name, languages, updated_at) VALUES (?, ?, ?, ?)",
                     (teacher, teacher.title(), json.dumps(langs), old))
    slots = {1: ("rivera", at(3, 15)), 2: ("rivera", at(15, 15)), 3: ("nguyen", at(15, 15)),
             4: ("nguyen", at(16, 15)), 5: ("rivera", at(20, 15, month=11)), 6: ("nguyen", at(17, 15))}
    for sid, (teacher, starts) in slots.items():
        ends = (datetime.fromisoformat(starts) + timedelta(minutes=20)).isoformat()
        conn.execute("INSERT INTO conference_slots (id, teacher_id, key, starts_at, ends_at, tz)"
                     " VALUES (?, ?, ?, ?, ?, 'America/Los_Angeles')", (sid, teacher, f"k{sid}", starts, ends))
    book("conference", 3, "confirmed", at(1, 9), "vi", slot=1, teacher="rivera")       # interpreter: vi
    book("conference", 1, "confirmed", at(20, 9, month=11), "es", slot=2, teacher="rivera")
    book("conference", 4, "confirmed", at(2, 9), "es", slot=3, teacher="nguyen")       # interpreter: es
    book("conference", 3, "cancelled", at(2, 9), "vi", slot=4, teacher="nguyen")
    book("conference", 4, "confirmed", at(1, 9, month=11), "so", slot=5, teacher="rivera")  # over: not counted
    book("conference", 2, "confirmed", at(20, 9, month=11), "so", slot=6, teacher="nguyen")  # interpreter: so


@pytest.fixture
async def filled(settings: Settings) -> Path:
    db = await Database(settings.db_path).open()
    try:
        await db.transact(fill)
    finally:
        await db.close()
    return settings.db_path


@pytest.fixture
def understanding(settings: Settings):
    profile, catalog = load_school(settings)
    return profile, catalog


async def report_for(path: Path, catalog, start: datetime = START, end: datetime = END) -> Report:
    db = await Database(path).open(migrate=False)
    try:
        return await db.run(compute, catalog, start, end, SCHOOL)
    finally:
        await db.close()


# -- numbers -------------------------------------------------------------------------------
async def test_report_numbers_match_hand_count(filled, understanding):
    _, catalog = understanding
    r = await report_for(filled, catalog)
    assert (r.messages, r.families) == (12, 4)
    assert (r.questions, r.answered_by_bot, r.handed_off) == (10, 5, 5)
    assert r.by_topic == (TopicCount("general", 3, 1, 2), TopicCount("attendance", 2, 2, 0),
                          TopicCount("safety", 2, 0, 2), TopicCount("other", 1, 1, 0),
                          TopicCount("student_services", 1, 0, 1), TopicCount("transportation", 1, 1, 0))
    assert r.by_language == (LanguageCount("es", 5), LanguageCount("en", 3), LanguageCount("vi", 2))
    assert r.families_by_language == (LanguageCount("es", 2), LanguageCount("en", 1), LanguageCount("vi", 1))
    assert (r.tickets, r.tickets_urgent, r.tickets_responded) == (4, 2, 3)
    assert r.median_first_response_minutes == 30  # of 10, 30 and 200 minutes
    assert r.replies_untranslated == 1
    [book_fair] = r.signups  # the old event is over, the retired one inactive
    assert (book_fair.id, book_fair.shifts, book_fair.capacity) == ("book_fair", 2, 5)
    assert (book_fair.confirmed, book_fair.waitlisted, book_fair.new_in_period, book_fair.open_spots) == (4, 1, 4, 1)
    c = r.conferences
    assert (c.booked, c.need_interpreter, c.new_in_period) == (4, 3, 2)
    assert c.interpreter_languages == (LanguageCount("es", 1), LanguageCount("so", 1), LanguageCount("vi", 1))


async def test_period_edges_and_empty_period(filled, understanding):
    _, catalog = understanding
    # the day before the period: the message a second before it starts, and Sunday's hand-off
    r = await report_for(filled, catalog, START - timedelta(days=1), START)
    assert (r.messages, r.questions, r.by_topic) == (2, 2, (TopicCount("general", 2, 1, 1),))
    assert (r.tickets, r.median_first_response_minutes) == (1, 5)
    empty = await report_for(filled, catalog, datetime(2026, 1, 5, tzinfo=LA), datetime(2026, 1, 12, tzinfo=LA))
    assert (empty.messages, empty.questions, empty.tickets, empty.median_first_response_minutes) == (0, 0, 0, None)
    assert empty.bot_share is None
    with pytest.raises(ValueError):
        await report_for(filled, catalog, END, START)


# -- rendering -----------------------------------------------------------------------------
async def test_text_report(filled, understanding):
    text = render.render_text(await report_for(filled, understanding[1]))
    assert text.startswith(f"{SCHOOL}: community report, Nov 30 – Dec 6, 2026\n")
    for expected in ("4 families sent 12 messages.",
                     "Questions: 10. Answered by the bot: 5 (50%). Handed to staff: 5 (50%).",
                     "Staff hand-offs: 4 tickets (2 urgent). First staff response: median 30 min (3 of 4 answered so far).",
                     "Staff replies sent in English because no translation model was installed: 1",
                     "Book Fair: 4 of 5 spots filled, 1 on the waitlist (4 new this period)",
                     "Conferences: 4 booked (2 new this period); 3 need an interpreter (Spanish 1, Somali 1, Vietnamese 1).",
                     "Spanish (es)"):
        assert expected in text, expected
    topic_lines = [line.split() for line in text.splitlines() if line.startswith("  Student services")]
    assert topic_lines == [["Student", "services", "1", "0", "1"]]


async def test_csv_round_trips(filled, understanding, tmp_path):
    report = await report_for(filled, understanding[1])
    path = tmp_path / "week.csv"
    render.write_csv(report, path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["section", "key", "metric", "value"]
    got = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert len(got) == len(rows) == len(render.csv_rows(report))  # one number per row, no duplicates
    assert got[("summary", "school", "name")] == SCHOOL
    assert datetime.fromisoformat(got[("summary", "period", "start")]) == START
    assert got[("summary", "all", "questions")] == "10"
    assert {k[1]: int(v) for k, v in got.items() if k[0] == "topic" and k[2] == "handed_off"} == \
        {t.topic: t.handed_off for t in report.by_topic}
    assert {k[1]: int(v) for k, v in got.items() if k[0] == "language" and k[2] == "questions"} == \
        {"es": 5, "en": 3, "vi": 2}
    assert {k[1]: int(v) for k, v in got.items() if k[0] == "language" and k[2] == "families"} == \
        {"es": 2, "en": 1, "vi": 1}
    assert float(got[("tickets", "all", "median_first_response_minutes")]) == 30.0
    assert got[("tickets", "all", "replies_untranslated")] == "1"
    assert got[("signups", "book_fair", "confirmed")] == "4" and got[("signups", "book_fair", "capacity")] == "5"
    assert got[("conferences", "all", "need_interpreter")] == "3"
    assert got[("interpreter", "so", "conferences")] == "1"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


async def test_png_is_a_1200_by_675_chart(filled, understanding, tmp_path):
    report = await report_for(filled, understanding[1])
    path = tmp_path / "chart.png"
    render.write_png(report, path)
    data = path.read_bytes()
    assert png_size(data) == render.PNG_SIZE == (1200, 675)
    assert data.endswith(b"IEND\xaeB`\x82")
    empty = Report(START, END, school=SCHOOL)
    assert png_size(render.png_bytes(empty)) == (1200, 675)
    many = Report(START, END, school=SCHOOL * 3, questions=300, answered_by_bot=150, handed_off=150,
                  by_topic=tuple(TopicCount(f"topic_{i}", 20, 10, 10) for i in range(15)))
    assert png_size(render.png_bytes(many)) == (1200, 675)


def test_matplotlib_is_imported_only_for_a_chart():
    code = ("import sys, bot.cli, bot.reports.compute, bot.reports.render, bot.reports.weekly; "
            "bot.cli.build_parser(); print('matplotlib' in sys.modules)")
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


# -- CLI -----------------------------------------------------------------------------------
def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT,
                          env=cli_env(tmp_path), timeout=120)


async def test_cli_prints_the_report_and_writes_files(filled, tmp_path):
    png, table = tmp_path / "out.png", tmp_path / "out.csv"
    proc = await asyncio.to_thread(run_cli, tmp_path, "report", "--since", "2026-11-30", "--until", "2026-12-06",
                                   "--png", str(png), "--csv", str(table))
    assert proc.returncode == 0, proc.stderr
    assert "Questions: 10. Answered by the bot: 5 (50%)" in proc.stdout
    assert f"wrote {png}" in proc.stdout and f"wrote {table}" in proc.stdout
    assert png_size(png.read_bytes()) == (1200, 675)
    assert "summary,all,questions,10" in table.read_text(encoding="utf-8").splitlines()


async def test_cli_bad_date_is_a_usage_error(filled, tmp_path):
    proc = await asyncio.to_thread(run_cli, tmp_path, "report", "--since", "2026-13-01")
    assert proc.returncode == 2
    assert "--since '2026-13-01' is not a date; use YYYY-MM-DD" in proc.stderr
    assert proc.stdout == ""


def args(**given) -> argparse.Namespace:
    base = {"week": False, "month": False, "since": None, "until": None, "png": None, "csv": None}
    return argparse.Namespace(**{**base, **given})


def test_cli_periods():
    today = date(2026, 12, 9)  # a Wednesday
    assert cli_period(args(), today) == (date(2026, 12, 2), date(2026, 12, 8))
    assert cli_period(args(week=True), today) == (date(2026, 12, 2), date(2026, 12, 8))
    assert cli_period(args(month=True), today) == (date(2026, 11, 1), date(2026, 11, 30))
    assert cli_period(args(month=True), date(2027, 1, 1)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert cli_period(args(since="2026-11-01"), today) == (date(2026, 11, 1), today)
    assert cli_period(args(until="2026-11-30"), today) == (date(2026, 11, 24), date(2026, 11, 30))


def test_cli_usage_errors_and_missing_database(settings, capsys):
    assert report_command(settings, args(since="2026-12-05", until="2026-12-01")) == 2
    assert "--since 2026-12-05 is after --until 2026-12-01" in capsys.readouterr().err
    assert report_command(settings, args(week=True, since="2026-12-01")) == 2
    assert "not both" in capsys.readouterr().err
    assert report_command(settings, args()) == 1  # nothing has run here yet
    err = capsys.readouterr().err
    assert f"no database at {settings.db_path}" in err
    assert not settings.db_path.exists()  # and the report did not create one


async def test_cli_unwritable_output_fails_clearly(filled, settings, capsys):
    missing = settings.data_dir / "no-such-dir" / "x.csv"
    code = await asyncio.to_thread(report_command, settings, args(csv=str(missing)))
    assert code == 1
    assert f"could not write --csv {missing}" in capsys.readouterr().err


# -- Slack ---------------------------------------------------------------------------------
def section_texts(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


async def test_slack_message(filled, understanding):
    report = await report_for(filled, understanding[1])
    text, blocks = weekly.slack_message(report)
    assert "Questions: 10" in text
    assert blocks[0]["type"] == "header" and SCHOOL in blocks[0]["text"]["text"]
    body = "\n".join(section_texts(blocks))
    assert "• Safety: 2 / 0 / 2" in body and "• Spanish (es): 5" in body and "Book Fair: 4 of 5" in body
    assert "Families by language" in body and "• Vietnamese (vi): 1" in body


def test_slack_message_escapes_data_and_keeps_slack_limits():
    nasty = "<!channel> Smith & <@U123> School"
    report = Report(START, END, school=nasty, questions=2000, answered_by_bot=1000, handed_off=1000,
                    by_topic=tuple(TopicCount(f"<topic_{i}>&" + "x" * 60, 2, 1, 1) for i in range(1000)))
    text, blocks = weekly.slack_message(report)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert "<" not in block["text"]["text"] and ">" not in block["text"]["text"]
    body = "\n".join(section_texts(blocks))
    assert "&lt;topic 0&gt;&amp;" in body
    assert "<!channel>" not in text and "&lt;!channel&gt; Smith &amp; &lt;@U123&gt; School" in text
    context = json.dumps([b for b in blocks if b["type"] == "context"])
    assert "<!channel>" not in context


# -- the weekly post -----------------------------------------------------------------------
def test_next_weekly_run():
    sunday_night = datetime(2026, 12, 6, 23, 0, tzinfo=LA)
    assert weekly.next_weekly_run(sunday_night, LA) == datetime(2026, 12, 7, 8, 0, tzinfo=LA)
    monday_eight = datetime(2026, 12, 7, 8, 0, tzinfo=LA)
    assert weekly.next_weekly_run(monday_eight, LA) == datetime(2026, 12, 14, 8, 0, tzinfo=LA)
    assert weekly.next_weekly_run(monday_eight - timedelta(minutes=1), LA) == monday_eight
    # given in UTC, answered in the school's zone; across the new year
    wednesday = datetime(2026, 12, 30, 20, 0, tzinfo=UTC)
    assert weekly.next_weekly_run(wednesday, LA) == datetime(2027, 1, 4, 8, 0, tzinfo=LA)
    # across the end of daylight saving time (Sunday Nov 1, 2026): still 08:00 local
    run = weekly.next_weekly_run(datetime(2026, 10, 31, 12, 0, tzinfo=LA), LA)
    assert run.astimezone(UTC) == datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    assert weekly.next_weekly_run(sunday_night, LA, weekday=4, hour=15) == datetime(2026, 12, 11, 15, 0, tzinfo=LA)
    assert weekly.week_before(monday_eight) == (START, END)
    with pytest.raises(ValueError):
        weekly.next_weekly_run(datetime(2026, 12, 6), LA)


class Poster:
    def __init__(self, fail: int = 0) -> None:
        self.posts: list[tuple[str, list, bytes]] = []
        self.fail = fail

    async def __call__(self, text: str, blocks: list, png: bytes) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("slack is down")
        self.posts.append((text, blocks, png))


async def run_loop(path: Path, understanding, post: Poster, now: datetime) -> None:
    """One start of the bot: the loop checks once (stop is already set) and returns."""
    profile, catalog = understanding
    db = await Database(path).open(migrate=False)
    try:
        stop = asyncio.Event()
        stop.set()
        await weekly.weekly_report_loop(db, catalog, profile, post, stop, clock=lambda: now)
    finally:
        await db.close()


async def test_weekly_loop_posts_once_per_week_across_restarts(filled, understanding):
    post = Poster()
    monday = datetime(2026, 12, 7, 8, 5, tzinfo=LA)
    await run_loop(filled, understanding, post, monday)
    assert len(post.posts) == 1
    text, blocks, png = post.posts[0]
    assert "Nov 30 – Dec 6, 2026" in text and "Questions: 10" in text
    assert blocks[0]["type"] == "header" and png_size(png) == (1200, 675)
    state = filled.parent / weekly.STATE_FILE
    assert json.loads(state.read_text()) == {"last_week_start": "2026-11-30"}
    # restarts later that morning and on Tuesday: already posted
    await run_loop(filled, understanding, post, monday + timedelta(hours=2))
    await run_loop(filled, understanding, post, monday + timedelta(hours=23))
    assert len(post.posts) == 1
    # the next Monday: the next week
    await run_loop(filled, understanding, post, monday + timedelta(days=7))
    assert len(post.posts) == 2 and "Dec 7 – Dec 13, 2026" in post.posts[1][0]
    assert json.loads(state.read_text()) == {"last_week_start": "2026-12-07"}


async def test_weekly_loop_skips_stale_weeks_and_retries_failures(filled, understanding):
    post = Poster(fail=1)
    # first start on a Wednesday: last Monday's report is too old to post now
    await run_loop(filled, understanding, post, datetime(2026, 12, 9, 10, 0, tzinfo=LA))
    assert post.posts == [] and not (filled.parent / weekly.STATE_FILE).exists()
    # Monday: Slack fails, nothing is remembered; the next check posts it
    monday = datetime(2026, 12, 14, 8, 0, tzinfo=LA)
    await run_loop(filled, understanding, post, monday)
    assert post.posts == [] and not (filled.parent / weekly.STATE_FILE).exists()
    await run_loop(filled, understanding, post, monday + timedelta(hours=1))
    assert len(post.posts) == 1 and "Dec 7 – Dec 13, 2026" in post.posts[0][0]


async def test_weekly_loop_waits_until_stopped(filled, understanding):
    profile, catalog = understanding
    post = Poster()
    db = await Database(filled).open(migrate=False)
    try:
        stop = asyncio.Event()
        task = asyncio.create_task(weekly.weekly_report_loop(
            db, catalog, profile, post, stop, clock=lambda: datetime(2026, 12, 9, 10, 0, tzinfo=LA)))
        await asyncio.sleep(0.05)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await db.close()
    assert post.posts == []


async def test_families_count_in_the_language_they_settled_on(settings, understanding):
    """A Creole family whose first message was logged while it was still English counts as Creole."""
    def creole(conn) -> None:
        conn.execute("INSERT INTO families (id, channel, channel_user_id, chat_id, language, language_source,"
                     " created_at, last_seen_at) VALUES (7, 'telegram', 'u7', 'c7', 'ht', 'detected', ?, ?)",
                     (at(1, 8), at(1, 8)))
        for stamp, lang in ((at(1, 8), "en"), (at(1, 9), "ht"), (at(2, 9), "ht")):
            conn.execute("INSERT INTO messages (family_id, direction, text, language, intent, created_at)"
                         " VALUES (7, 'in', 'words', ?, 'school_hours', ?)", (lang, stamp))

    db = await Database(settings.db_path).open()
    try:
        await db.transact(creole)
    finally:
        await db.close()
    report = await report_for(settings.db_path, understanding[1])
    assert report.families_by_language == (LanguageCount("ht", 1),)
    text = render.render_text(report)
    families = text.split("Families by language\n", 1)[1].splitlines()[0].split()
    assert families == ["Haitian", "Creole", "(ht)", "1", "100%"]


async def test_status_counts_families_by_their_language(filled, settings):
    from bot.ops.status import gather_status

    db = await Database(filled).open(migrate=False)
    try:
        status = await gather_status(db, settings)
    finally:
        await db.close()
    assert status.families_by_language == {"es": 2, "en": 1, "vi": 1}
    assert "families:     Spanish 2, English 1, Vietnamese 1" in status.render()
    assert status.as_json()["families"] == {"by_language": {"es": 2, "en": 1, "vi": 1}}
