"""The shipped catalog is complete and valid; broken catalogs are reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import REPO_ROOT, load_school_profile
from bot.understanding.catalog import load_catalog
from bot.understanding.quality import confusable_pairs
from conftest import FIXTURES

PROFILE = load_school_profile(REPO_ROOT / "sample_school" / "school.toml")
REQUIRED_IDS = list(yaml.safe_load((FIXTURES / "intent-ids.yaml").read_text()))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_ROOT / "intents", PROFILE.info)


def test_every_required_intent_exists(catalog):
    missing = [i for i in REQUIRED_IDS if i not in catalog]
    assert not missing


def test_shipped_catalog_is_valid(catalog):
    assert catalog.errors == [], catalog.report()


@pytest.mark.parametrize("intent_id", REQUIRED_IDS)
def test_examples_per_intent(catalog, intent_id):
    intent = catalog[intent_id]
    assert len(intent.examples_in("en")) >= 12
    assert len(intent.examples_in("es")) >= 8
    assert intent.answer and intent.title


def test_actions_match_the_spec(catalog):
    assert catalog["bullying_report"].handoff == "urgent"
    assert catalog["safety_emergency"].handoff == "urgent"
    assert catalog["special_education"].handoff == "normal"
    assert catalog["volunteer_signup"].flow == "volunteer"
    assert catalog["conference_signup"].flow == "conference"
    assert catalog["change_language"].flow == "language"


def test_answers_fill_every_placeholder(catalog):
    for intent_id in catalog.intents:
        if catalog[intent_id].answer:
            rendered = catalog.render_answer(intent_id, PROFILE.info)
            assert "{" not in rendered, intent_id


def test_shipped_catalog_has_no_confusable_pairs_between_english_or_spanish(catalog):
    pairs = [p for p in confusable_pairs(catalog)]
    assert len(pairs) <= 3, "\n".join(map(str, pairs))


def write(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "intents"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


GOOD = """\
intents:
  - id: school_hours
    title: Hours
    examples:
      en: [when does school start, what time is dismissal]
      es: [a que hora empieza la escuela]
    answer: School starts at {start_time}.
"""


def problems(folder: Path) -> list[str]:
    return [str(p) for p in load_catalog(folder, PROFILE.info).errors]


def test_good_fixture_has_no_problems(tmp_path):
    assert problems(write(tmp_path, "a.yaml", GOOD)) == []


def test_bad_yaml_names_file_and_line(tmp_path):
    folder = write(tmp_path, "broken.yaml", GOOD + "  - id: [unclosed\n    title: x\n")
    [problem] = problems(folder)
    assert problem.startswith("intents/broken.yaml:9:") or "broken.yaml:" in problem
    assert "YAML error" in problem


def test_missing_answer(tmp_path):
    folder = write(tmp_path, "a.yaml", GOOD.replace("    answer: School starts at {start_time}.\n", ""))
    [problem] = problems(folder)
    assert "a.yaml:2:" in problem and "missing English 'answer'" in problem


def test_unknown_placeholder_is_reported_where_it_is_written(tmp_path):
    folder = write(tmp_path, "a.yaml", GOOD.replace("{start_time}", "{start_tme}"))
    [problem] = problems(folder)
    assert "a.yaml:7:30: " in problem  # the answer's line and column
    assert "unknown placeholder {start_tme}" in problem
    # in a block answer, the line of the placeholder itself, not the intent's or the answer's first
    block = GOOD.replace("    answer: School starts at {start_time}.\n",
                         "    answer: >\n      School starts at {start_time}.\n      Doors open at {doors_opne}.\n")
    [problem] = problems(write(tmp_path, "a.yaml", block))
    assert "a.yaml:9:21: " in problem and "{doors_opne}" in problem


def test_unterminated_quote_is_reported_where_it_opens(tmp_path):
    """The quote on line 8 is noticed only at the end of the file: the report names line 8."""
    lines = (GOOD + GOOD.replace("school_hours", "school_calendar").replace("when does", "wen does")
             .replace("what time", "wat time").replace("a que hora", "cuando").replace("intents:\n", "")).splitlines()
    lines[7] = '  - id: "bus_times'
    [problem] = problems(write(tmp_path, "meals.yaml", "\n".join(lines) + "\n"))
    assert "meals.yaml:8:9: YAML error:" in problem, problem
    assert "closing quote" in problem and "end of stream" in problem


def test_a_broken_file_causes_no_knock_on_errors_in_other_files(tmp_path):
    menu = GOOD.replace("school_hours", "lunch_menu").replace("when does school start", "lunch today") \
        .replace("what time is dismissal", "menu").replace("a que hora empieza la escuela", "almuerzo") \
        .replace('title: Hours', 'title: "Lunch')  # never closed
    write(tmp_path, "meals.yaml", menu)
    folder = write(tmp_path, "hours.yaml", GOOD + "    choices: [lunch_menu, no_such_intent]\n")
    catalog = load_catalog(folder, PROFILE.info)
    errors = [str(p) for p in catalog.errors]
    assert len(errors) == 2, errors
    assert "meals.yaml:3:12: YAML error" in errors[1] or "meals.yaml:3:12: YAML error" in errors[0]
    assert any("hours.yaml:8: intent 'school_hours': choice 'no_such_intent' is not an intent id" in p
               for p in errors), errors  # on the choices' line; an id the broken file does not define
    assert not any("'lunch_menu' is not an intent id" in p for p in errors), errors
    [note] = [str(p) for p in catalog.problems if p.severity == "warning"]
    assert "meals.yaml:3:12: warning: knock-on errors left out: 1 choice(s) in other files" in note
    report = catalog.report()
    assert report.index("YAML error") < report.index("knock-on")  # the cause first


def test_duplicate_id_across_files(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    folder = write(tmp_path, "b.yaml", GOOD.replace("when does school start", "bell time"))
    found = problems(folder)
    assert any("b.yaml:2:" in p and "duplicate intent id 'school_hours'" in p and "a.yaml:2" in p
               for p in found), found


def test_example_in_two_intents(tmp_path):
    other = GOOD.replace("school_hours", "school_calendar").replace("what time is dismissal", "days off")
    write(tmp_path, "a.yaml", GOOD)
    found = problems(write(tmp_path, "b.yaml", other))
    assert any("b.yaml:5:" in p and "belongs to two intents" in p for p in found), found


def test_missing_spanish_examples_and_unknown_key(tmp_path):
    text = GOOD.replace("      es: [a que hora empieza la escuela]\n", "").replace("    title: Hours\n",
                                                                                   "    title: Hours\n    exmaples: {}\n")
    found = problems(write(tmp_path, "a.yaml", text))
    assert any("a.yaml:4:" in p and "unknown key 'exmaples'" in p for p in found), found
    assert any("no examples in 'es'" in p for p in found), found


def test_empty_file_and_wrong_shape(tmp_path):
    write(tmp_path, "empty.yaml", "")
    found = problems(write(tmp_path, "list.yaml", "- id: x\n"))
    assert any("empty.yaml:1:" in p for p in found)
    assert any("list.yaml:1:" in p and "'intents:'" in p for p in found)


def test_confusable_pair_is_reported(tmp_path):
    other = GOOD.replace("school_hours", "school_calendar").replace(
        "what time is dismissal", "when does the school start").replace("a que hora empieza la escuela", "dias libres")
    write(tmp_path, "a.yaml", GOOD)
    folder = write(tmp_path, "b.yaml", other)
    catalog = load_catalog(folder, PROFILE.info)
    warnings = [str(p) for p in confusable_pairs(catalog)]
    assert any("confusable" in w and "b.yaml:" in w for w in warnings), warnings
