"""Whose conference it is: the child's name, asked in the conference flow and remembered for
the family (durable: `family_children`), shown with the guardian to staff (Slack's and the
CLI's lists, the CSV export, alerts) and in the family's data export; deleted by /forgetme.
The conversations themselves are stories in tests/stories/conference.yaml."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.flows.conference import child_name, staff_label
from bot.privacy import family_data
from bot.signups import staff, store
from bot.signups.definitions import load_yaml, to_yaml
from bot.storage import children
from support import Parent
from test_signups import NOW, rows, sample, small  # noqa: F401 (fixtures)


def test_a_typed_child_name_is_tidied_and_questions_are_not_names():
    assert child_name("  mai   nguyen ") == "Mai Nguyen"
    assert child_name("José de la Cruz") == "José de la Cruz"
    assert child_name("O'Brien-Smith") == "O'Brien-Smith"
    assert child_name("阮美") == "阮美"
    for not_a_name in ("when is the conference?", "3", "cancel", "", "a b c d e f", "x" * 61, "me@x.org"):
        assert child_name(not_a_name) is None, not_a_name


async def book(p: Parent, teacher: str, child: str | None, day: str, time: str) -> None:
    await p.say(f"/conference {teacher}")
    if child is not None:
        await p.say(child)
    else:
        await p.tap(p.button("conference:c:"))
    if day:
        await p.tap(f"conference:d:{day}")
    await p.tap(p.button("conference:s:", time))
    await p.tap(p.button("conference:confirm:"))
    assert "Your conference is booked" in p.text, p.text


async def test_staff_see_child_and_guardian_and_the_child_is_remembered_durably(sample):
    lan = Parent(sample, "lan", "Lan Nguyen")
    await book(lan, "tran", "minh nguyen", "2027-01-12", "1:30 PM")
    await lan.say("/conference hassan")
    assert [c.label for c in lan.replies[-1].choices][0] == "Minh Nguyen"  # offered as a button
    await lan.tap(lan.button("conference:c:"))
    await lan.tap(lan.button("conference:k:", "4B"))
    assert "Pick a day" not in lan.text and "Free times with Mrs. Amina Hassan on Wed, Jan 13" in lan.text
    await lan.tap(lan.button("conference:s:", "2:00 PM"))
    await lan.tap(lan.button("conference:confirm:"))
    assert "Mrs. Amina Hassan (4B)" in lan.text and "🧒 Minh Nguyen" in lan.text

    fam = await lan.family()
    kept = await sample.db.run(children.children, fam.id)
    assert [(c.name, c.class_name, c.teacher_id) for c in kept] == [("Minh Nguyen", "4B", "hassan")]

    # the teacher's list (Slack's /homeroom signups who, and the CLI's export) and the CSV
    text = staff.who_text(await sample.db.run(staff.who, "hassan"), sample.profile.tz)
    assert "Minh Nguyen (4B) — guardian: Lan Nguyen  [en]" in text
    assert "Family" not in text
    table = list(csv.DictReader(io.StringIO((await sample.db.run(staff.export_csv)).decode("utf-8-sig"))))
    assert [(r["id"], r["name"], r["child"], r["class"]) for r in table] == [
        ("tran", "Lan Nguyen", "Minh Nguyen", ""), ("hassan", "Lan Nguyen", "Minh Nguyen", "4B")]

    # the same class is not asked again for this child with this teacher (after a cancel)
    [(hassan_id,)] = await rows(sample, "SELECT id FROM signup_bookings WHERE teacher_id = 'hassan'")
    await lan.tap(f"mysignups:cancel:{hassan_id}")
    await lan.say("/conference hassan")
    await lan.tap(lan.button("conference:c:"))
    assert "Free times with Mrs. Amina Hassan" in lan.text

    # the family's data export names the child; /forgetme deletes it
    data = await sample.db.run(family_data.export_family, fam.id)
    assert data["children"][0]["name"] == "Minh Nguyen" and data["signups"][0]["child"] == "Minh Nguyen"
    counts = await sample.db.transact(family_data.delete_family, fam.id, "test", store.iso(NOW))
    assert counts["family_children"] == 1
    assert await rows(sample, "SELECT COUNT(*) FROM family_children") == [(0,)]


async def test_a_late_booking_alert_names_the_child(small):
    p = Parent(small, "p1", "Ana Ruiz")
    small.clock.now = NOW.replace(day=14, hour=22)  # the day before the conference (Dec 15, 1 PM)
    await book(p, "rivera", "Pablo", "", "1:00 PM")
    [(text,)] = await rows(small, "SELECT json_extract(payload, '$.text') FROM outbox WHERE kind = 'signups_alert'")
    assert text.startswith("Within 24 hours: Pablo — guardian: Ana Ruiz booked a conference with Mr. Carlos Rivera")


def test_classes_are_checked_and_written_back():
    base = """
conferences:
  - id: lee
    teacher: Mr. Lee
    classes: [Period 2 Algebra, Period 5 Geometry]
    room: Room 9
    windows:
      - {date: 2027-01-12, start: "13:00", end: "14:00", slot_minutes: 15}
"""
    defs = load_yaml(Path("c.yaml"), "America/Los_Angeles", base)
    assert not defs.problems
    [teacher] = defs.teachers
    assert teacher.classes == ("Period 2 Algebra", "Period 5 Geometry")
    assert teacher.class_name == "Period 2 Algebra, Period 5 Geometry"
    again = load_yaml(Path("d.yaml"), "America/Los_Angeles", to_yaml(defs))
    assert again.teachers[0].classes == teacher.classes
    bad = load_yaml(Path("e.yaml"), "America/Los_Angeles", base.replace("[Period 2 Algebra, Period 5 Geometry]", "7"))
    assert bad.problems == ["e.yaml:5: 'classes' must be a list of class names, e.g. [Period 2, Period 5]"]


async def test_a_question_at_the_child_step_is_answered_not_taken_for_a_name(sample):
    p = Parent(sample, "p1")
    await p.say("/conference rivera")
    await p.say("what time does school start")
    assert "Which child" not in p.text and "What Time" not in p.text
    assert await rows(sample, "SELECT COUNT(*) FROM family_children") == [(0,)]


async def test_a_guardian_with_no_chat_name_is_named_by_the_child_for_staff(sample):
    anon = Parent(sample, "anon", None)
    await book(anon, "tran", "mateo lopez", "2027-01-12", "1:30 PM")
    text = staff.who_text(await sample.db.run(staff.who, "tran"), sample.profile.tz)
    assert "guardian: Mateo Lopez's family" in text, text
    table = list(csv.DictReader(io.StringIO((await sample.db.run(staff.export_csv)).decode("utf-8-sig"))))
    assert [r["name"] for r in table] == ["Mateo Lopez's family"]
    assert staff_label(7) == "Family #7 (no name given)"


async def test_one_list_of_children_serves_absences_and_conferences(sample):
    """A child named in an absence report is a button when booking a conference, and a child
    booked for is a button in the next absence report: a family types a name once."""
    rosa = Parent(sample, "rosa", "Rosa Diaz")
    await rosa.say("my son is sick today and won't be in school")
    await rosa.say("Mateo Diaz")
    await rosa.tap("absence:days:both")
    await rosa.tap("absence:why:sick")
    await rosa.tap("absence:nonote")
    await rosa.tap(rosa.button("absence:confirm:"))
    await rosa.say("/conference tran")
    assert [c.label for c in rosa.replies[-1].choices][0] == "Mateo Diaz"

    ana = Parent(sample, "ana", "Ana Ruiz")
    await book(ana, "tran", "lucia ruiz", "2027-01-12", "1:30 PM")
    replies = await ana.say("my daughter will be absent tomorrow")
    assert [c.label for c in replies[-1].choices][:2] == ["Lucia Ruiz", "Another child"]
    fam = await ana.family()
    assert [(c.name, c.teacher_id) for c in await sample.db.run(children.children, fam.id)] == [("Lucia Ruiz", "tran")]


async def test_children_from_absences_reported_before_the_upgrade_join_the_list(tmp_path):
    """Migration 14: absences' children (one per name, whatever its case) join family_children."""
    from bot.storage import Database

    path = tmp_path / "h.sqlite3"
    async with Database(path) as db:
        def old_rows(conn):
            conn.execute("INSERT INTO families (id, channel, channel_user_id, chat_id, created_at, last_seen_at)"
                         " VALUES (1, 't', 'u', 'c', '2026-11-01', '2026-11-01')")
            for n, (child, at) in enumerate([("Mateo", "2026-11-02"), ("mateo", "2026-11-05"), ("Ana", "2026-11-03")]):
                conn.execute("INSERT INTO absences (family_id, child, language, days, first_day, last_day, reason,"
                             " reported_at, key) VALUES (1, ?, 'en', ?, ?, ?, 'sick', ?, ?)",
                             (child, at, at, at, at, f"k{n}"))
            conn.execute("INSERT INTO family_children (family_id, name, created_at, last_used_at)"
                         " VALUES (1, 'ANA', '2026-11-01', '2026-11-01')")  # booked before: kept as it is
            conn.execute("DELETE FROM schema_version WHERE version >= 14")  # as if from before 14
        await db.transact(old_rows)
    async with Database(path) as db:
        names = sorted(c.name.lower() for c in await db.run(children.children, 1))
    assert names == ["ana", "mateo"]
