"""Exports never run formulas (CSV injection): a family named `=HYPERLINK(...)` or a staff-typed
title `@SUM(A1)` reaches a spreadsheet as text. One test per export, each through the path staff
use — `homeroom signups export --csv`, `/homeroom signups export` in (mock) Slack, `homeroom report
--csv`, `homeroom family export` — reading the file back with the csv module."""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import io
import json
from contextlib import redirect_stdout

import pytest

from bot import csv_safe
from bot.app import start
from bot.config import REPO_ROOT, load_school_profile
from bot.reports.cli import report_command
from bot.signups import booking, store
from bot.signups.cli import signups_command
from bot.storage import Database
from test_privacy import Parent as PrivacyParent
from test_privacy import run as run_homeroom
from test_privacy import settings_for as privacy_settings
from test_reports import args as report_args
from test_reports import at, filled  # noqa: F401  (fixture)
from test_signups import NOW, Parent, to_confirm
from test_signups import small  # noqa: F401  (fixture)
from test_signups_slack import SIGNUPS, mock, slack_settings, world  # noqa: F401  (fixtures)

TYPED = ['=HYPERLINK("https://evil.example/x","Click me")', "+1+1", "-2", "@SUM(A1)"]
# a chat name is tidied (whitespace collapsed), so these reach the store only through other paths
RAW = ["\t=1+2", "\r=cmd|' /C calc'!A0"]
HOSTILE = TYPED + RAW
ORDINARY = "Nguyễn Thị Lan"


def neutralized(cell: str, original: str) -> bool:
    return cell == "'" + original


# -- the one function --------------------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_text_that_starts_like_a_formula_gets_a_quote(value):
    assert csv_safe.neutralize(value) == "'" + value


@pytest.mark.parametrize("value", [ORDINARY, "O'Brien", "a=b", "2026-12-11", "09:00", "", " -2", "1+1"])
def test_ordinary_text_is_unchanged(value):
    assert csv_safe.neutralize(value) == value


def test_numbers_the_code_computed_stay_numbers_and_every_row_of_a_dict_writer_is_safe():
    assert csv_safe.neutralize(-2) == -2 and csv_safe.neutralize(-0.5) == -0.5 and csv_safe.neutralize(None) is None
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerows([["name", "delta"], ["-2", -2]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["name", "delta"], ["'-2", "-2"]]
    out = io.StringIO()
    dict_writer = csv_safe.DictWriter(out, ["name"])
    dict_writer.writeheader()
    dict_writer.writerows([{"name": v} for v in HOSTILE])  # the standard writerows skips writerow
    assert [r["name"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["'" + v for v in HOSTILE]


def test_every_csv_the_bot_writes_goes_through_csv_safe():
    """So a new export cannot forget it: no module but bot/csv_safe.py makes a csv writer."""
    offenders = []
    for path in sorted((REPO_ROOT / "bot").rglob("*.py")):
        if path.name == "csv_safe.py" and path.parent.name == "bot":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "csv" \
                    and node.attr in ("writer", "DictWriter"):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "csv" \
                    and {a.name for a in node.names} & {"writer", "DictWriter"}:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


# -- sign-ups: `homeroom signups export --csv` ---------------------------------------------------

async def test_signups_export_command_neutralizes_families_names(small):  # noqa: F811
    for n, name in enumerate(TYPED + [ORDINARY]):  # their chat names, through the volunteer flow
        parent = Parent(small, f"p{n}", name=name)
        await to_confirm(parent, "race")
        await parent.tap(parent.button("volunteer:confirm:"))
    [shift_id] = await small.db.run(lambda c: [r[0] for r in c.execute(
        "SELECT id FROM signup_shifts WHERE opportunity_id = 'race'")])
    for n, name in enumerate(RAW):
        parent = Parent(small, f"raw{n}", name="Someone")
        await parent.say("/start")
        family = await parent.family()
        result = await small.db.transact(booking.book_shift, family.id, shift_id, name, "en", f"raw-{n}",
                                         store.iso(NOW))
        assert result.status == "confirmed"

    out = io.StringIO()
    with redirect_stdout(out):
        code = await asyncio.to_thread(signups_command, small.settings, argparse.Namespace(action="export", csv=True))
    assert code == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    for name in HOSTILE:
        assert "'" + name in rows, (name, list(rows))
    ordinary = rows[ORDINARY]
    assert (ordinary["title"], ordinary["date"], ordinary["start"], ordinary["language"], ordinary["status"]) == \
        ("Race shift", "2026-12-11", "09:00", "en", "confirmed")


# -- sign-ups: `/homeroom signups export` in Slack ------------------------------------------------

async def test_slack_signups_export_neutralizes_families_names(world, mock):  # noqa: F811
    for n, name in enumerate(HOSTILE + [ORDINARY]):
        family = await world.family(f"u{n}", name if name in TYPED else "Parent")
        await world.book_shift(family, "later", name, f"k-{n}")
    await world.command("signups export later", channel=SIGNUPS, answered=False)
    await mock.wait_for("files.completeUploadExternal")
    [file] = mock.uploads.values()
    rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"))))
    names = [r["name"] for r in rows]
    assert names[:len(HOSTILE)] == ["'" + name for name in HOSTILE] and names[-1] == ORDINARY
    assert [(r["title"], r["status"]) for r in rows[:3]] == [("Book fair helper", "confirmed")] * 2 + \
        [("Book fair helper", "waitlisted")]
    assert rows[2]["position"] == "1"


# -- the report: `homeroom report --csv` ----------------------------------------------------------

async def test_report_csv_neutralizes_staff_written_titles(filled, settings, tmp_path):  # noqa: F811
    def hostile_opportunities(conn) -> None:
        for n, title in enumerate(HOSTILE):
            conn.execute("INSERT INTO signup_opportunities (id, title, active, updated_at) VALUES (?, ?, 1, ?)",
                         (f"hostile{n}", title, at(1, 9)))
            conn.execute("INSERT INTO signup_shifts (id, opportunity_id, key, starts_at, ends_at, tz, capacity)"
                         " VALUES (?, ?, ?, ?, ?, 'America/Los_Angeles', 3)",
                         (100 + n, f"hostile{n}", f"h{n}", at(10, 9), at(10, 10)))
    db = await Database(filled).open()
    try:
        await db.transact(hostile_opportunities)
    finally:
        await db.close()

    path = tmp_path / "report.csv"
    code = await asyncio.to_thread(report_command, settings,
                                   report_args(since="2026-11-30", until="2026-12-06", csv=str(path)))
    assert code == 0
    with open(path, newline="", encoding="utf-8") as f:
        got = {(r["section"], r["key"], r["metric"]): r["value"] for r in csv.DictReader(f)}
    for n, title in enumerate(HOSTILE):
        assert neutralized(got[("signups", f"hostile{n}", "title")], title)
        assert got[("signups", f"hostile{n}", "capacity")] == "3"
    assert got[("summary", "school", "name")] == load_school_profile(settings.school_profile_path).name
    assert got[("summary", "all", "questions")] == "10"
    assert got[("signups", "book_fair", "title")] == "Book Fair"


# -- a family's data: `homeroom family export` (and /mydata) -------------------------------------

async def test_family_data_export_is_json_so_a_family_gets_its_words_back_exactly(tmp_path):
    """The family export is JSON (a data-portability copy, not a sheet for staff): nothing in it
    is run by a spreadsheet, so the family's name and words come back exactly as they were."""
    settings = privacy_settings(tmp_path, None)
    homeroom = await start(settings)
    try:
        parent = PrivacyParent(homeroom, "eve", TYPED[0])
        await parent.say("@SUM(A1) what time does school start")
        [reply] = await parent.say("/mydata")
        family = await parent.family()
    finally:
        await homeroom.close()
    assert reply.attachment is not None and reply.attachment.filename.endswith(".json")
    assert json.loads(reply.attachment.content.decode("utf-8"))["family"]["display_name"] == TYPED[0]

    export = await asyncio.to_thread(run_homeroom, tmp_path, "family", "export", str(family.id), "--as", "alice")
    assert export.returncode == 0, export.stderr
    data = json.loads(export.stdout)
    assert data["family"]["display_name"] == TYPED[0]
    assert data["messages"][0]["text"] == "@SUM(A1) what time does school start"

