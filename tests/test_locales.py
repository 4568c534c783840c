"""The gettext catalogs: they parse, match the code and catalog, and keep every placeholder."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import locale_files
from bot.calendar.load import load_calendar
from bot.config import REPO_ROOT, load_school_profile
from bot.i18n import Locales
from bot.signups.definitions import load_definitions
from bot.understanding.catalog import load_catalog

LOCALES = REPO_ROOT / "locales"
PROFILE = load_school_profile(REPO_ROOT / "sample_school" / "school.toml")
SIGNUPS = load_definitions(REPO_ROOT / "sample_school" / "signups", PROFILE.timezone)
CALENDAR = load_calendar(PROFILE.calendar_source, PROFILE.path.parent, REPO_ROOT / "data", PROFILE.tz)
TEMPLATE = locale_files.build_template(load_catalog(REPO_ROOT / "intents", PROFILE.info), signups=SIGNUPS,
                                       calendar=CALENDAR)
TOP_ANSWERS = ["greeting", "report_absence", "school_hours", "transportation_bus", "lunch_menu",
               "school_calendar", "school_closure", "parent_portal", "contact_teacher", "conference_signup"]


def test_every_po_parses_and_keeps_placeholders():
    problems, coverage = locale_files.check(LOCALES, TEMPLATE)
    assert problems == []
    assert {c.language for c in coverage} >= {"es", "zh", "vi", "ar", "ht", "so", "pt", "ru"}


def test_committed_template_matches_the_code_and_catalog():
    with (LOCALES / "bot.pot").open("rb") as fh:
        committed = {m.id for m in read_po(fh) if m.id}
    current = {m.id for m in TEMPLATE if m.id}
    assert current - committed == set(), "run `homeroom locales update` and translate the new strings"
    assert committed - current == set(), "the template has strings the code no longer uses"


def test_spanish_is_complete():
    _, coverage = locale_files.check(LOCALES, TEMPLATE)
    es = next(c for c in coverage if c.language == "es")
    assert (es.fuzzy, es.missing) == (0, 0)


@pytest.mark.parametrize("lang", ["zh", "vi", "ar", "ht", "so", "pt", "ru"])
def test_ui_strings_and_top_answers_are_curated(lang):
    locales = Locales(LOCALES)
    catalog = load_catalog(REPO_ROOT / "intents", PROFILE.info)
    ui = [m.id for m in TEMPLATE if m.id and any(loc[0].startswith("bot/") for loc in m.locations)]
    missing_ui = [m for m in ui if locales.lookup(lang, m) is None]
    assert not missing_ui
    missing_answers = [i for i in TOP_ANSWERS if locales.lookup(lang, catalog[i].answer) is None]
    assert not missing_answers


def _po(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "bot.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + body,
                                   encoding="utf-8")
    return tmp_path


def test_a_translation_that_drops_a_placeholder_is_reported(tmp_path):
    root = _po(tmp_path, 'msgid "Call {office_phone} now."\nmsgstr "Llame ahora."\n')
    problems, _ = locale_files.check(root)
    assert len(problems) == 1
    assert "bot.po:5:" in str(problems[0]) and "drops {office_phone}" in str(problems[0])


def test_fuzzy_or_empty_translations_are_never_curated(tmp_path):
    root = _po(tmp_path, '#, fuzzy\nmsgid "Hello"\nmsgstr "Hola"\n\nmsgid "Bye"\nmsgstr ""\n\n'
                         'msgid "Thanks"\nmsgstr "Gracias"\n')
    locales = Locales(root)
    assert locales.lookup("xx", "Hello") is None
    assert locales.lookup("xx", "Bye") is None
    assert locales.lookup("xx", "Thanks") == "Gracias"


def test_locale_is_per_call_not_process_wide():
    locales = Locales(LOCALES)
    es = locales.text("es", "Main menu")
    zh = locales.text("zh", "Main menu")
    assert es != zh != "Main menu" and locales.text("en", "Main menu") == "Main menu"
