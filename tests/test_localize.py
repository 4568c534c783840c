"""The Localizer is the one speaker: a Text's nested Texts follow the language it settles for
the sentence around them, and machine translation is marked once, wherever it happened."""

from __future__ import annotations

from pathlib import Path

from bot.core.localize import MACHINE_NOTE, Draft, Localizer, Text, joined
from bot.i18n import Locales
from bot.translation import FakeTranslator

CHECK = "Please check: {title} in {place}{note}"
UNCURATED = "Not in the catalog: {title} in {place}"
CATALOG = {
    CHECK: "XX revise: {title} en {place}{note}",
    "Gym": "Gimnasio",
    "Bring water": "Traiga agua",
    MACHINE_NOTE: "(Traducción automática)",
}


def _localizer(tmp_path: Path, model: bool) -> tuple[Localizer, FakeTranslator | None]:
    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    body = "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in CATALOG.items())
    (folder / "bot.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + body,
                                   encoding="utf-8")
    translator = FakeTranslator(languages=["en", "xx"]) if model else None
    return Localizer(Locales(tmp_path), translator), translator


def _check(title: str = "Bake sale", notes: list = ()) -> Text:
    return Text(CHECK, {"title": Text(title, kind="free"), "place": Text("Gym", kind="free"),
                        "note": joined(notes, "; ", prefix=" · ")})


async def test_nested_texts_of_a_curated_sentence_are_curated_else_machine_translated(tmp_path):
    localizer, translator = _localizer(tmp_path, model=True)
    rendered = await localizer.render(_check(notes=[Text("Bring water"), Text("Park on the street")]), "xx")
    assert rendered.text == "XX revise: [xx] Bake sale en Gimnasio · Traiga agua; [xx] Park on the street"
    assert rendered.source == "curated" and rendered.machine
    assert sorted(text for text, _, _ in translator.calls) == ["Bake sale", "Park on the street"]


async def test_without_a_model_nested_staff_words_stay_as_written_in_a_curated_sentence(tmp_path):
    localizer, _ = _localizer(tmp_path, model=False)
    rendered = localizer.render_now(_check(), "xx")
    assert rendered.text == "XX revise: Bake sale en Gimnasio" and not rendered.machine


async def test_a_sentence_that_falls_back_to_english_has_english_nested_texts(tmp_path):
    localizer, _ = _localizer(tmp_path, model=False)
    text = Text(UNCURATED, {"title": Text("Bake sale", kind="free"), "place": Text("Gym", kind="free")})
    rendered = await localizer.render(text, "xx")
    assert rendered.text == "Not in the catalog: Bake sale in Gym"  # not "Gimnasio" in an English sentence
    assert rendered.source == "english" and not rendered.machine


async def test_a_machine_translated_sentence_is_translated_whole_once(tmp_path):
    localizer, translator = _localizer(tmp_path, model=True)
    text = Text(UNCURATED, {"title": Text("Bake sale", kind="free"), "place": Text("Gym", kind="free")})
    assert localizer.render_now(text, "xx") is None  # it needs the model
    rendered = await localizer.render(text, "xx")
    assert rendered.text == "[xx] Not in the catalog: Bake sale in Gym" and rendered.machine
    assert translator.calls == [("Not in the catalog: Bake sale in Gym", "en", "xx")]


async def test_english_families_get_english_throughout(tmp_path):
    localizer, translator = _localizer(tmp_path, model=True)
    rendered = localizer.render_now(_check(notes=[Text("Bring water")]), "en")
    assert rendered.text == "Please check: Bake sale in Gym · Bring water" and not rendered.machine
    assert translator.calls == []


async def test_the_note_is_added_once_when_only_nested_texts_were_machine_translated(tmp_path):
    localizer, _ = _localizer(tmp_path, model=True)
    [reply] = await localizer.outgoing([Draft(_check(notes=[Text("Park on the street")]))], "xx", "terminal", "c1")
    assert reply.machine_translated
    assert reply.text.count("(Traducción automática)") == 1 and reply.text.endswith("(Traducción automática)")


async def test_no_note_when_nothing_was_machine_translated(tmp_path):
    localizer, translator = _localizer(tmp_path, model=True)
    drafts = [Draft(_check(title="Gym", notes=[Text("Bring water")]), [(Text("Gym", kind="free"), "x:y")])]
    [reply] = await localizer.outgoing(drafts, "xx", "terminal", "c1")
    assert reply.text == "XX revise: Gimnasio en Gimnasio · Traiga agua" and not reply.machine_translated
    assert reply.choices[0].label == "Gimnasio" and translator.calls == []


async def test_a_machine_translated_label_alone_does_not_mark_the_body(tmp_path):
    localizer, _ = _localizer(tmp_path, model=True)
    [reply] = await localizer.outgoing([Draft(_check(title="Gym"), [(Text("Bake sale", kind="free"), "x:y")])],
                                       "xx", "terminal", "c1")
    assert reply.choices[0].label == "[xx] Bake sale"
    assert not reply.machine_translated and "(Traducción automática)" not in reply.text


def test_joined_parts_keep_braces_and_nothing_joins_to_nothing():
    assert Localizer(Locales(Path("/nonexistent"))).render_now(joined(["a {x}", Text("b")], " {;} ", "["), "en").text \
        == "[a {x} {;} b"
    assert Localizer(Locales(Path("/nonexistent"))).render_now(joined([], prefix="\n"), "xx").text == ""


# -- dates a family reads ------------------------------------------------------------------
from datetime import datetime as _dt  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import pytest  # noqa: E402

from bot import dates  # noqa: E402
from bot.signups import text as signup_text  # noqa: E402

_MONDAY = _dt(2026, 12, 7, 7, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
_CURATED = ["es", "ht", "so", "ru", "vi", "zh", "ar", "pt"]
_ENGLISH_WORDS = ("Mon", "Monday", "Dec", "December", "M12")


@pytest.mark.parametrize("lang", _CURATED)
def test_dates_use_the_languages_own_words_never_english_or_placeholders(lang):
    shown = [dates.day(_MONDAY, lang), dates.weekday_time(_MONDAY, lang), dates.long_date(_MONDAY, lang),
             signup_text.when(_MONDAY, _MONDAY.replace(hour=9), lang)]
    for text in shown:
        assert not any(word in text.replace(",", " ").split() for word in _ENGLISH_WORDS), (lang, text)
        assert "M12" not in text and "AM" not in text.split(), (lang, text)


def test_haitian_creole_dates_come_from_curated_words():
    assert dates.day(_MONDAY, "ht") == "len 7 des"
    assert dates.weekday_time(_MONDAY, "ht") == "lendi 7:30"
    assert dates.long_date(_dt(2027, 1, 12), "ht") == "12 jan 2027"
    assert signup_text.when(_MONDAY, _MONDAY.replace(hour=9), "ht") == "len 7 des, 7:30 – 9:30"


def test_somali_writes_the_day_before_the_month():
    assert dates.day(_MONDAY, "so") == "Isn, 7 Dis"
    assert dates.weekday_time(_MONDAY.replace(hour=15), "so") == "Isniin 3:30 GD"


def test_chinese_joins_date_and_time_without_a_latin_comma():
    assert signup_text.when(_MONDAY, _MONDAY.replace(hour=9), "zh") == "12月7日周一 07:30 – 09:30"


def test_every_date_words_file_is_complete():
    for path in sorted(dates.LOCALES_DIR.glob("*/dates.toml")):
        words = dates.words(path.parent.name)
        assert words is not None and words.render(words.day, _MONDAY)


async def test_a_schools_own_locales_directory_is_read_for_dates_first(tmp_path):
    """HOMEROOM_LOCALES_DIR: the school's `<lang>/dates.toml` wins; a school that copied only its
    .po files keeps the bundled Creole dates."""
    from bot.app import start
    from bot.config import Settings

    bundled = dates.day(_MONDAY, "ht")
    own = tmp_path / "locales"
    (own / "ht").mkdir(parents=True)
    text = (dates.LOCALES_DIR / "ht" / "dates.toml").read_text(encoding="utf-8")
    first_month = dates.words("ht").months_short[11]
    (own / "ht" / "dates.toml").write_text(text.replace(f'"{first_month}"', '"DESANM"'), encoding="utf-8")
    try:
        app = await start(Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "d1"),
                                             "HOMEROOM_LOCALES_DIR": str(own), "HOMEROOM_UNDERSTANDING": "lexical"}))
        await app.close()
        assert "DESANM" in dates.day(_MONDAY, "ht") and dates.day(_MONDAY, "ht") != bundled
        (own / "ht" / "dates.toml").unlink()
        dates.use_locales(own)  # as a restart with only .po files there would
        assert dates.day(_MONDAY, "ht") == bundled
    finally:
        dates.use_locales(None)


# -- words a family reads inside translated sentences --------------------------------------
from bot.i18n import fill_in  # noqa: E402
from bot.understanding.language import language_in_text  # noqa: E402


def test_language_names_in_running_text_follow_each_languages_capitalisation():
    assert language_in_text("es", "es") == "español"
    assert language_in_text("pt", "pt") == "português"
    assert language_in_text("vi", "vi") == "tiếng Việt"
    assert language_in_text("ht", "ht") == "kreyòl ayisyen"
    assert language_in_text("en", "en") == "English"
    assert language_in_text("so", "so") == "Soomaali"


def test_chinese_spaces_around_values_follow_the_value():
    template = "请在 {tardy_time} 之前致电 {phone} 或与 {teacher} 联系"
    values = {"tardy_time": "上午8:20", "phone": "(951) 555-0143", "teacher": "Mr. Daniel Brooks"}
    assert fill_in("zh", template, values) == "请在上午8:20之前致电 (951) 555-0143 或与 Mr. Daniel Brooks 联系"
    assert fill_in("es", "a las {t} hoy", {"t": "8:20"}) == "a las 8:20 hoy"  # only Chinese is respaced


def test_no_curated_text_hedges_a_known_persons_gender():
    """The profile names the principal and the counselor: no 'director(a)' or 'consejero(a)'."""
    import re

    for po in sorted(Path(__file__).resolve().parent.parent.glob("locales/*/LC_MESSAGES/bot.po")):
        hedged = re.findall(r"\w+\((?:a|o|as|os)\)", po.read_text(encoding="utf-8"))
        assert not [h for h in hedged if not h.startswith("Obrigado")], (po, hedged)


def test_a_value_ending_in_a_full_stop_takes_the_sentences_own():
    from datetime import date

    from bot import dates
    from bot.i18n import fill

    monday = dates.day(date(2026, 12, 7), "ru")  # Babel's Russian: "пн, 7 дек."
    assert monday.endswith(".")
    assert fill("Следующий учебный день — {day}.", {"day": monday}) == f"Следующий учебный день — {monday}"
    assert fill("School opens {day}.", {"day": "Monday"}) == "School opens Monday."
    assert fill("{a}. Then {b}.", {"a": "Ends at 3 p.m.", "b": "home"}) == "Ends at 3 p.m. Then home."
    assert fill("{missing}.", {}) == "{missing}."
