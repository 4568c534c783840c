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
